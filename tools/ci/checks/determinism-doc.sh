#!/usr/bin/env bash
# docs/determinism.md's Python reference reproduces the doc's own table of first values bit for bit (that table is
# what LatentSamplerTests holds the C# sampler to), so the reference and the server agree through it.
set -euo pipefail
cd "$(dirname "$0")/../../.."
/usr/bin/python3 - <<'PY'
import re, sys
doc = open("docs/determinism.md", encoding="utf-8").read()
code = re.search(r"## Python reference\s+```python\n(.*?)```", doc, re.S).group(1)
ns = {}
exec(code, ns)
rows = re.findall(r"^\| (\d+) \| ([\d.]+) \| ([-\d., e]+) \|$", doc, re.M)
if not rows:
    sys.exit("determinism-doc: no table of first values in docs/determinism.md")
for seed, t, values in rows:
    want = [float(v) for v in values.split(",")]
    got = ns["latent"](int(seed), len(want), float(t))
    if got != want:
        sys.exit(f"determinism-doc: seed {seed}, t {t}: the Python reference gives {got}, the table says {want}")
print(f"determinism-doc: the Python reference reproduces all {len(rows)} rows of the table bit for bit")
PY

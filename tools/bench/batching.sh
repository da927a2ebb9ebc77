#!/usr/bin/env bash
# The "Batching that knows the hardware" figures of docs/performance.md: does dynamic batching pay on this machine?
# 1. The in-process ceiling of MODEL at every batch size the batcher may profile (1, 2, 4, ... maxBatchSize), and at
#    batch 1 with two runs in flight at once on the one session (does a second concurrent batch add throughput?).
# 2. One Release server with batching on (the manifest's settings and the default policy, measured), driven by
#    `gan bench` with 1, 2, 4, 8, 16, 32 and 64 closed-loop clients of one RAW_U8 image each.
# 3. One Release server with batching off (Models:Overrides:MODEL:MaxBatchSize=1), the same runs.
# Then OUTDIR/batching.md: per client count, images/s on and off, on/off, and each as a fraction of the best
# in-process ceiling (any batch size), with the server's batch size profile (GetModel over REST) and mean batch.
# Usage: tools/bench/batching.sh [MODEL] [OUTDIR]   (from the repository root, on an otherwise idle machine)
# Environment: DURATION, WARMUP (every run, ceiling sizes included), CLIENTS ("1 2 4 8 16 32 64"), PORT, METRICS_PORT,
# CONFIGURATION (Release; the docs check uses Debug), NO_BUILD=1 (use the binaries already built).
set -euo pipefail
model=${1:-dcgan-mnist}
out=${2:-artifacts/bench-batching}
duration=${DURATION:-15s}
warmup=${WARMUP:-15s}  # tiered JIT settles after ~10-20 s under load (docs/performance.md); the profile runs in the first warm-up
clients=${CLIENTS:-1 2 4 8 16 32 64}
mkdir -p "$out"

configuration=${CONFIGURATION:-Release}
if [ "${NO_BUILD:-0}" != 1 ]; then
  dotnet build -c "$configuration" src/GanInference.Server --verbosity quiet >"$out/build.txt" 2>&1 || { cat "$out/build.txt" >&2; exit 1; }
  dotnet build -c "$configuration" src/GanInference.Cli --verbosity quiet >>"$out/build.txt" 2>&1 || { cat "$out/build.txt" >&2; exit 1; }
fi
server_dll=src/GanInference.Server/bin/$configuration/net10.0/GanInference.Server.dll
gan="dotnet src/GanInference.Cli/bin/$configuration/net10.0/gan.dll"
port=${PORT:-5350}; metrics=${METRICS_PORT:-9550}

# The batch sizes a profile measures: the powers of two below maxBatchSize, and it (docs/manifest.md).
max_batch=$(python3 -c 'import json,sys; print((json.load(open(sys.argv[1])).get("batching") or {}).get("maxBatchSize") or 64)' "models/$model/gan.json")
sizes=$(python3 -c 'import sys; m=int(sys.argv[1]); s=[]; b=1
while b < m: s.append(b); b*=2
print(",".join(map(str, s + [m])))' "$max_batch")

{ echo "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"; echo "cores=$(nproc)"; echo "dotnet=$(dotnet --version)"
  echo "model=$model clients=$clients duration=$duration warmup=$warmup sizes=$sizes configuration=$configuration"; } >"$out/machine.txt"

echo "== in-process ceiling ($model, batch $sizes)"
$gan bench --in-process --model-dir "models/$model" --batch "$sizes" --duration "$duration" --warmup "$warmup" \
  --json "$out/ceiling.json" >"$out/ceiling.txt" 2>&1 || { cat "$out/ceiling.txt" >&2; exit 1; }

echo "== in-process ceiling, batch 1, 2 runs in flight"
$gan bench --in-process --model-dir "models/$model" --batch 1 --parallel-runs 2 --duration "$duration" --warmup "$warmup" \
  --json "$out/ceiling-parallel2.json" >"$out/ceiling-parallel2.txt" 2>&1 || { cat "$out/ceiling-parallel2.txt" >&2; exit 1; }

# The server serves this one model only (a copy of its folder), so nothing else loads or profiles beside it.
repo=$(mktemp -d); cp -r "models/$model" "$repo/"
server_pid=
trap 'if [ -n "$server_pid" ]; then kill -TERM "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi; rm -rf "$repo"' EXIT
start_server() { # setting name, extra configuration arguments
  local name=$1; shift
  dotnet "$server_dll" --urls "http://127.0.0.1:$port" --Http:Urls="http://127.0.0.1:$metrics" \
    --Models:Path="$repo" --Models:Watch=false --Logging:LogLevel:Default=Warning "$@" >"$out/server-$name.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 1 240); do
    if $gan models --server "http://127.0.0.1:$port" >/dev/null 2>&1; then return 0; fi
    kill -0 "$server_pid" 2>/dev/null || { echo "the server exited at start:" >&2; tail -5 "$out/server-$name.log" >&2; exit 1; }
    sleep 0.25
  done
  echo "server did not start" >&2; exit 1
}
stop_server() { kill -TERM "$server_pid"; wait "$server_pid" || true; server_pid=; }

for setting in on off; do
  extra=(); [ "$setting" = off ] && extra=("--Models:Overrides:$model:MaxBatchSize=1")
  echo "== server, batching $setting ${extra[*]:-}"
  start_server "$setting" "${extra[@]}"
  for c in $clients; do
    echo "   $c clients"
    $gan bench --server "http://127.0.0.1:$port" --metrics-url "http://127.0.0.1:$metrics/metrics" --model "$model" \
      --concurrency "$c" --count 1 --format raw-u8 --duration "$duration" --warmup "$warmup" \
      --json "$out/$setting-$c.json" >"$out/$setting-$c.txt" 2>&1 || { cat "$out/$setting-$c.txt" >&2; exit 1; }
  done
  # GetModel over REST: the policy, the batch size profile the batcher follows and its chosen size.
  python3 -c 'import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1]).read().decode())' \
    "http://127.0.0.1:$metrics/v1/models/$model" >"$out/model-$setting.json"
  stop_server
done

python3 - "$out" "$model" "$clients" <<'PY' | tee "$out/batching.md"
import json, sys
out, model, clients = sys.argv[1], sys.argv[2], sys.argv[3].split()
ceiling = json.load(open(f"{out}/ceiling.json"))["results"]
best = max(ceiling, key=lambda r: r["imagesPerSecond"])
def mean_batch(x):
    return next((h["mean"] for h in x["serverMetrics"].get("histograms", []) if "batch_size" in h["name"]), float("nan"))
print(f"# Dynamic batching on `{model}`\n")
print("In-process ceiling per batch size (images/s): " + ", ".join(f"{r['batch']}: {r['imagesPerSecond']:.0f}" for r in ceiling)
      + f"; best: batch {best['batch']}, {best['imagesPerSecond']:.0f} images/s.\n")
two = json.load(open(f"{out}/ceiling-parallel2.json"))["results"][0]["imagesPerSecond"]
one = next(r["imagesPerSecond"] for r in ceiling if r["batch"] == 1)
print(f"Batch 1 with two runs in flight on the one session: {two:.0f} images/s, {two / one:.2f}x one run in flight.\n")
batching = json.load(open(f"{out}/model-on.json")).get("batching", {})
profile = batching.get("profile")
if profile:
    print(f"Server's batch size profile (policy {batching.get('policy')}, images/s): "
          + ", ".join(f"{s.get('batchSize')}: {s.get('imagesPerSecond', 0):.0f}" for s in profile.get("sizes", []))
          + f"; chosen batch size {profile.get('chosenBatchSize')} (tolerance {profile.get('tolerance')}).\n")
else:
    print(f"The server took no batch size profile (policy {batching.get('policy')}).\n")
print("| clients | on images/s | off images/s | on / off | on / best ceiling | off / best ceiling | mean batch on | failed on/off |")
print("| --- | --- | --- | --- | --- | --- | --- | --- |")
for c in clients:
    on, off = (json.load(open(f"{out}/{s}-{c}.json")) for s in ("on", "off"))
    a, b = on["imagesPerSecond"], off["imagesPerSecond"]
    print(f"| {c} | {a:.0f} | {b:.0f} | {a / b:.2f} | {a / best['imagesPerSecond']:.2f} | {b / best['imagesPerSecond']:.2f} "
          f"| {mean_batch(on):.1f} | {on['failed']}/{off['failed']} |")
PY

#!/usr/bin/env bash
# The measurements of issue 17 at the sizes users serve, on the benchmark models of tools/bench/make-models.sh
# (written first if missing): in-process ceilings and server runs for the 256² generator (RAW_U8, PNG, JPEG),
# the 256² U-Net (Translate of 256² PNG uploads), and the server's allocations and GC pauses during each run
# (`gan bench`'s serverMetrics.runtime). Run on an otherwise idle machine; every figure is in OUTDIR/*.json.
# Usage: tools/bench/large-images.sh [OUTDIR]   (DURATION, WARMUP as in tools/bench/perf.sh)
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-artifacts/bench-large}
duration=${DURATION:-30s}
warmup=${WARMUP:-20s}
mkdir -p "$out"
[ -f tools/bench/models/bench-dcgan-256/model.onnx ] || tools/bench/make-models.sh >/dev/null

dotnet build -c Release src/GanInference.Server >/dev/null
dotnet build -c Release src/GanInference.Cli >/dev/null
gan="dotnet src/GanInference.Cli/bin/Release/net10.0/gan.dll"
port=5320; metrics=9520

echo "== in-process ceilings"
$gan bench --in-process --model-dir tools/bench/models/bench-dcgan-256 --batch 1,16 --duration "$duration" --warmup "$warmup" --json "$out/ceiling-dcgan-256.json"

dotnet src/GanInference.Server/bin/Release/net10.0/GanInference.Server.dll --urls "http://127.0.0.1:$port" --Http:Urls="http://127.0.0.1:$metrics" \
  --Models:Path=tools/bench/models --Models:Watch=false --Logging:LogLevel:Default=Warning &
server_pid=$!
trap 'kill -TERM $server_pid 2>/dev/null; wait $server_pid 2>/dev/null || true' EXIT
for _ in $(seq 1 240); do $gan models --server "http://127.0.0.1:$port" 2>/dev/null | grep -q bench-unet-256 && break; sleep 0.5; done

# 256² PNG uploads for the U-Net: the generator's own images.
inputs="$out/inputs-256"
rm -rf "$inputs"
$gan generate --server "http://127.0.0.1:$port" --model bench-dcgan-256 --seed 0 --count 32 --format png --out "$inputs" >/dev/null
$gan bench --in-process --model-dir tools/bench/models/bench-unet-256 --images "$inputs" --format png --batch 1,16 --duration "$duration" --warmup "$warmup" --json "$out/ceiling-unet-256.json"

bench() { # name, extra bench args
  local name=$1; shift
  $gan bench --server "http://127.0.0.1:$port" --metrics-url "http://127.0.0.1:$metrics/metrics" \
    --duration "$duration" --warmup "$warmup" --json "$out/$name.json" "$@"
}

echo "== server: 256² generator, 16 images per call (Generate, then GenerateStream)"
for format in raw-u8 png jpeg; do
  bench "dcgan-256-$format" --model bench-dcgan-256 --count 16 --concurrency 2 --format "$format" --ceiling "$out/ceiling-dcgan-256.json"
  bench "dcgan-256-$format-stream" --model bench-dcgan-256 --count 16 --concurrency 2 --format "$format" --stream --ceiling "$out/ceiling-dcgan-256.json"
done
echo "== server: 256² U-Net, 16 PNG uploads per call (Translate, then TranslateStream)"
bench unet-256-png --model bench-unet-256 --images "$inputs" --count 16 --concurrency 2 --format png --ceiling "$out/ceiling-unet-256.json"
bench unet-256-png-stream --model bench-unet-256 --images "$inputs" --count 16 --concurrency 2 --format png --stream --ceiling "$out/ceiling-unet-256.json"

# One line per run: images/s, ratio to the ceiling at batch 16, the ratio to the same call in RAW_U8 (what encoding
# costs), the server's encode time per image, bytes allocated per image, GC pause share.
/usr/bin/python3 - "$out" <<'PY'
import json, sys, glob, os
out = sys.argv[1]
def load(name):
    path = os.path.join(out, name + ".json")
    return json.load(open(path)) if os.path.exists(path) else None
for path in sorted(glob.glob(os.path.join(out, "*-256-*.json"))):
    name = os.path.basename(path)[:-5]
    r = json.load(open(path)); sm = r.get("serverMetrics") or {}; rt = sm.get("runtime") or {}; c = r.get("ceiling") or {}
    encode = next((h for h in sm.get("histograms") or [] if h["name"].startswith("gan_encode_duration")), None)
    raw_name = name.replace("-png", "-raw-u8").replace("-jpeg", "-raw-u8")
    raw = load(raw_name) if name.startswith("dcgan-256-") and raw_name != name else None
    to_raw = f', {r["imagesPerSecond"] / raw["imagesPerSecond"]:.2f}x RAW_U8' if raw and raw["imagesPerSecond"] else ""
    print(f'{name}: {r["imagesPerSecond"]:.1f} images/s, ratio to batch 16 {c.get("sameBatchRatio") or 0:.2f}{to_raw}, '
          f'encode {encode["mean"] if encode else float("nan"):.2f} ms per image, '
          f'{(rt.get("allocatedBytesPerImage") or 0):,.0f} bytes allocated per image, GC paused {100 * (rt.get("gcPauseShare") or 0):.2f} %, '
          f'gen2 collections {rt.get("gen2Collections")}')
PY

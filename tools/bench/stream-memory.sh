#!/usr/bin/env bash
# Issue 17's memory at 512²: the server's resident memory (VmRSS from /proc, sampled every 50 ms) while one client
# reads a 64-image RAW_U8 GenerateStream of bench-dcgan-512 (512×512×3; chunks of one batch, 8 images), twice:
# the first stream on a freshly loaded model (its growth includes ONNX Runtime's first batch-8 arena and the pools'
# first buffers), the second on the warm server (what a stream holds on top of that). Each is reported as the peak
# over the RSS just before it, against one chunk of reply bytes (8 × 512·512·3 = 6,291,456 bytes) and one chunk of
# inferred pixels (8 × 512·512·3 floats = 25,165,824 bytes). The whole stream's reply bytes are 50,331,648. The
# managed heap's committed memory before and after each stream (from /metrics) tells the .NET part from the native one.
# Usage: tools/bench/stream-memory.sh [OUTDIR]   (CONFIGURATION (Release), NO_BUILD=1, PORT, METRICS_PORT, COUNT (64), SERVER_ARGS as in tools/bench/allocations.sh)
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-artifacts/bench-stream-memory}
count=${COUNT:-64}
mkdir -p "$out"
[ -f tools/bench/models/bench-dcgan-512/model.onnx ] || tools/bench/make-models.sh >/dev/null

configuration=${CONFIGURATION:-Release}
if [ "${NO_BUILD:-0}" != 1 ]; then
  dotnet build -c "$configuration" src/GanInference.Server >/dev/null
  dotnet build -c "$configuration" src/GanInference.Cli >/dev/null
fi
gan="dotnet src/GanInference.Cli/bin/$configuration/net10.0/gan.dll"
port=${PORT:-5340}; metrics=${METRICS_PORT:-9540}

repo=$(mktemp -d)
ln -s "$PWD/tools/bench/models/bench-dcgan-512" "$repo/bench-dcgan-512"
dotnet "src/GanInference.Server/bin/$configuration/net10.0/GanInference.Server.dll" --urls "http://127.0.0.1:$port" --Http:Urls="http://127.0.0.1:$metrics" \
  --Models:Path="$repo" --Models:Watch=false --Logging:LogLevel:Default=Warning ${SERVER_ARGS:-} &
server_pid=$!
sampler_pid=
trap 'kill $sampler_pid 2>/dev/null || true; kill -TERM $server_pid 2>/dev/null; wait $server_pid 2>/dev/null || true; rm -rf "$repo"' EXIT
for _ in $(seq 1 240); do $gan models --server "http://127.0.0.1:$port" 2>/dev/null | grep -q bench-dcgan-512 && break; sleep 0.5; done

rss() { awk '/^VmRSS:/ { print $2 * 1024 }' "/proc/$server_pid/status"; }
for run in first second; do
  sleep 1
  rss > "$out/$run.baseline"
  curl -sf "http://127.0.0.1:$metrics/metrics" > "$out/$run.before.metrics" || true
  (while :; do rss; sleep 0.05; done) > "$out/$run.samples" &
  sampler_pid=$!
  # One stream: the bench sends only within its 1 s measured phase and lets the call in flight finish.
  $gan bench --server "http://127.0.0.1:$port" --model bench-dcgan-512 --format raw-u8 --count "$count" --stream \
    --concurrency 1 --duration 1s --warmup 0s --json "$out/$run.json" >/dev/null
  kill $sampler_pid; wait $sampler_pid 2>/dev/null || true; sampler_pid=
  curl -sf "http://127.0.0.1:$metrics/metrics" > "$out/$run.after.metrics" || true
done
awk '/^VmHWM:/ { print "server VmHWM (peak RSS of the whole run): " $2 * 1024 / 1e6 " MB" }' "/proc/$server_pid/status"

/usr/bin/python3 - "$out" "$count" <<'PY'
import json, os, sys
out, count = sys.argv[1], int(sys.argv[2])
reply_chunk, pixel_chunk = 8 * 512 * 512 * 3, 8 * 512 * 512 * 3 * 4
def gc_committed(path):
    # The managed heap's committed memory after the last collection (the runtime's dotnet.gc.last_collection.memory.committed_size).
    values = [float(line.split()[-1]) for line in open(path) if line.startswith("dotnet_gc_last_collection_memory_committed_size_bytes")]
    return sum(values) if values else float("nan")
for run in ("first", "second"):
    base = int(open(os.path.join(out, f"{run}.baseline")).read())
    samples = [int(line) for line in open(os.path.join(out, f"{run}.samples")) if line.strip()]
    r = json.load(open(os.path.join(out, f"{run}.json")))
    peak = max(samples) - base
    print(f"{run} stream: {r['images']} images of 512x512x3 RAW_U8 ({r['failed']} failed); RSS before {base / 1e6:.0f} MB, "
          f"peak over it {peak / 1e6:.1f} MB = {peak / reply_chunk:.1f} chunks of reply bytes ({reply_chunk:,} each) "
          f"= {peak / pixel_chunk:.2f} chunks of float pixels ({pixel_chunk:,} each); {len(samples)} samples; "
          f"managed heap committed {gc_committed(os.path.join(out, f'{run}.before.metrics')) / 1e6:.0f} -> {gc_committed(os.path.join(out, f'{run}.after.metrics')) / 1e6:.0f} MB "
          f"(the rest of the growth is native: ONNX Runtime's buffers for the batch)")
PY

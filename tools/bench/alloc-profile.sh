#!/usr/bin/env bash
# Where the server's allocations come from on the Generate RAW_U8 path at 256² (the load of tools/bench/allocations.sh:
# bench-dcgan-256, 2 clients × 16-image requests, unary or streamed): an EventPipe trace of the runtime's AllocationTick
# events (one per ~100 KB allocated, with its type and call stack; keyword GC, level verbose) taken with dotnet-trace
# after WARMUP of load, summed by type and by allocating stack (tools/bench/AllocationSites).
# Needs dotnet-trace: dotnet tool install -g dotnet-trace
# Usage: tools/bench/alloc-profile.sh [unary|stream] [OUTDIR]   (SECONDS_PROFILED (20), WARMUP (10), CONFIGURATION (Release), NO_BUILD=1, PORT, METRICS_PORT)
# Attaching the trace makes the runtime build its EventSource manifests: those (System.Diagnostics.Tracing,
# System.Reflection) stacks are the trace's own cost, not the server's.
set -euo pipefail
cd "$(dirname "$0")/../.."
mode=${1:-stream}
out=${2:-artifacts/alloc-profile}
seconds=${SECONDS_PROFILED:-20}
warmup=${WARMUP:-10}; warmup=${warmup%s}; seconds=${seconds%s}
mkdir -p "$out"
trace=$(command -v dotnet-trace || echo "$HOME/.dotnet/tools/dotnet-trace")
[ -x "$trace" ] || { echo "dotnet-trace not found: dotnet tool install -g dotnet-trace" >&2; exit 1; }
[ -f tools/bench/models/bench-dcgan-256/model.onnx ] || tools/bench/make-models.sh >/dev/null

configuration=${CONFIGURATION:-Release}
if [ "${NO_BUILD:-0}" != 1 ]; then
  dotnet build -c "$configuration" src/GanInference.Server >/dev/null
  dotnet build -c "$configuration" src/GanInference.Cli >/dev/null
fi
dotnet build -c Release tools/bench/AllocationSites >/dev/null
gan="dotnet src/GanInference.Cli/bin/$configuration/net10.0/gan.dll"
port=${PORT:-5350}; metrics=${METRICS_PORT:-9550}

repo=$(mktemp -d)
ln -s "$PWD/tools/bench/models/bench-dcgan-256" "$repo/bench-dcgan-256"
dotnet "src/GanInference.Server/bin/$configuration/net10.0/GanInference.Server.dll" --urls "http://127.0.0.1:$port" --Http:Urls="http://127.0.0.1:$metrics" \
  --Models:Path="$repo" --Models:Watch=false --Logging:LogLevel:Default=Warning &
server_pid=$!
trap 'kill -TERM $server_pid 2>/dev/null; wait $server_pid 2>/dev/null || true; rm -rf "$repo"' EXIT
for _ in $(seq 1 240); do $gan models --server "http://127.0.0.1:$port" 2>/dev/null | grep -q bench-dcgan-256 && break; sleep 0.5; done

extra=(); [ "$mode" = stream ] && extra=(--stream)
# The load runs through the warm-up and the traced window, with a margin for the trace to start and stop.
$gan bench --server "http://127.0.0.1:$port" --metrics-url "http://127.0.0.1:$metrics/metrics" --model bench-dcgan-256 \
  --format raw-u8 --count 16 --concurrency 2 "${extra[@]}" --duration "$((seconds + 5))s" --warmup "${warmup}s" --json "$out/$mode.json" > "$out/$mode.bench.txt" &
bench_pid=$!
sleep "$((warmup + 2))"
"$trace" collect -p "$server_pid" --providers 'Microsoft-Windows-DotNETRuntime:0x1:5' --duration "00:00:00:$(printf %02d "$seconds")" \
  -o "$out/$mode.nettrace" > "$out/$mode.trace.txt" 2>&1
wait $bench_pid
dotnet tools/bench/AllocationSites/bin/Release/net10.0/allocation-sites.dll "$out/$mode.nettrace" 8 12 > "$out/$mode.sites.txt"
grep -m1 'Server runtime' "$out/$mode.bench.txt" || true
sed -n '1,18p' "$out/$mode.sites.txt"

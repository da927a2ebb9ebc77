#!/usr/bin/env bash
# Where the server's CPU time goes under 32 single-image clients: a system-wide `perf record` of the
# server and the load generator while `gan bench` runs, each sample attributed by its leaf frame
# (tools/bench/perf-components.py). JIT-compiled .NET frames are named through perf maps
# (DOTNET_PerfMapEnabled=1). Needs `perf` (Debian's linux-perf) and root or perf_event_paranoid <= 0.
# Usage: tools/bench/profile.sh [MODEL] [OUTDIR] [FORMAT]  (repository root, otherwise idle machine)
# Environment: SECONDS_PROFILED (15), WARMUP_SECONDS (20), PORT, METRICS_PORT (the server's), CONFIGURATION (Release;
# the docs check uses Debug), NO_BUILD=1 (use the binaries already built).
set -euo pipefail
model=${1:-dcgan-mnist}
out=${2:-artifacts/profile}
format=${3:-raw-u8}
seconds=${SECONDS_PROFILED:-15}
warmup=${WARMUP_SECONDS:-20}  # tiered JIT keeps recompiling hot paths for the first ~10-20 s
mkdir -p "$out"

configuration=${CONFIGURATION:-Release}
if [ "${NO_BUILD:-0}" != 1 ]; then
  dotnet build -c "$configuration" src/GanInference.Server >/dev/null
  dotnet build -c "$configuration" src/GanInference.Cli >/dev/null
fi
server_dll=src/GanInference.Server/bin/$configuration/net10.0/GanInference.Server.dll
gan="dotnet src/GanInference.Cli/bin/$configuration/net10.0/gan.dll"
port=${PORT:-5320}; metrics=${METRICS_PORT:-9520}
# W^X double-mapping hides JIT code from perf maps; turn it off for the profiled processes only.
export DOTNET_PerfMapEnabled=1 DOTNET_EnableWriteXorExecute=0

dotnet "$server_dll" --urls "http://127.0.0.1:$port" --Http:Urls="http://127.0.0.1:$metrics" \
  --Models:Path=models --Models:Watch=false --Logging:LogLevel:Default=Warning &
server_pid=$!
trap 'kill -TERM $server_pid 2>/dev/null || true' EXIT
for _ in $(seq 1 120); do
  if $gan models --server "http://127.0.0.1:$port" >/dev/null 2>&1; then break; fi
  sleep 0.5
done

# Bench for warm-up + profiled window + a margin; perf samples the middle of it.
$gan bench --server "http://127.0.0.1:$port" --model "$model" --concurrency 32 --count 1 --format "$format" \
  --duration "$((seconds + 4))s" --warmup "${warmup}s" --json "$out/bench.json" > "$out/bench.txt" &
bench_pid=$!
sleep "$((warmup + 2))"
perf record -F 499 -a -g -o "$out/perf.data" -- sleep "$seconds" 2> "$out/perf-record.log"
wait "$bench_pid"
perf script -i "$out/perf.data" -F comm,pid,tid,ip,sym,dso 2>/dev/null > "$out/perf.script"
python3 tools/bench/perf-components.py "$out/perf.script" "$server_pid" | tee "$out/components.txt"

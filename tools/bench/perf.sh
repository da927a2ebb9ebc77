#!/usr/bin/env bash
# The benchmark behind docs/performance.md: the in-process ONNX Runtime ceiling, then the server under
# 32 single-image clients (dynamic batching on, then maxBatchSize 1), then 64-image RAW_U8 requests.
# Usage: tools/bench/perf.sh [MODEL] [OUTDIR]   (run from the repository root, on an otherwise idle machine)
# Environment: DURATION, WARMUP (each phase), PROVIDER (in-process ceiling), PORT, METRICS_PORT (the server's),
# CONFIGURATION (Release; the docs check uses Debug), NO_BUILD=1 (use the binaries already built), SERVER_DLL, GAN_DLL.
set -euo pipefail
model=${1:-dcgan-mnist}
out=${2:-artifacts/bench}
duration=${DURATION:-30s}
warmup=${WARMUP:-20s}  # tiered JIT settles after ~10-20 s under load (docs/performance.md)
mkdir -p "$out"

configuration=${CONFIGURATION:-Release}
if [ "${NO_BUILD:-0}" != 1 ]; then
  dotnet build -c "$configuration" src/GanInference.Server >/dev/null
  dotnet build -c "$configuration" src/GanInference.Cli >/dev/null
fi
server_dll=${SERVER_DLL:-src/GanInference.Server/bin/$configuration/net10.0/GanInference.Server.dll}  # tools/gpu/check.sh: the CUDA build's
gan="dotnet ${GAN_DLL:-src/GanInference.Cli/bin/$configuration/net10.0/gan.dll}"
port=${PORT:-5310}; metrics=${METRICS_PORT:-9510}

start_server() { # extra configuration arguments
  dotnet "$server_dll" --urls "http://127.0.0.1:$port" --Http:Urls="http://127.0.0.1:$metrics" \
    --Models:Path=models --Models:Watch=false --Logging:LogLevel:Default=Warning "$@" &
  server_pid=$!
  for _ in $(seq 1 120); do
    if $gan models --server "http://127.0.0.1:$port" >/dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  echo "server did not start" >&2; exit 1
}
stop_server() { kill -TERM "$server_pid"; wait "$server_pid" || true; server_pid=; }
trap 'if [ -n "${server_pid:-}" ]; then kill -TERM "$server_pid" 2>/dev/null || true; fi' EXIT  # a failed phase stops the server too

echo "== in-process ceiling ($model)"
$gan bench --in-process --provider "${PROVIDER:-cpu}" --model-dir "models/$model" --batch 1,8,32,64 --duration "$duration" --warmup "$warmup" --json "$out/ceiling.json"

bench() { # name, extra bench args
  local name=$1; shift
  $gan bench --server "http://127.0.0.1:$port" --metrics-url "http://127.0.0.1:$metrics/metrics" --model "$model" \
    --duration "$duration" --warmup "$warmup" --ceiling "$out/ceiling.json" --json "$out/$name.json" "$@"
}

echo "== server, dynamic batching on (manifest settings)"
start_server
bench clients32-batching --concurrency 32 --count 1 --format raw-u8
bench requests64-rawu8 --concurrency 2 --count 64 --format raw-u8
bench clients32-png --concurrency 32 --count 1 --format png
stop_server

echo "== server, maxBatchSize 1"
start_server --Models:Batching:MaxBatchSize=1
bench clients32-nobatching --concurrency 32 --count 1 --format raw-u8
stop_server

#!/usr/bin/env bash
# Client-side balancing on loopback (docs/scaling.md): starts REPLICAS server processes on models/, runs
# `gan bench` with one --server per replica, then prints each replica's successful-request counter.
#   tools/bench/replicas.sh [MODEL]      env: REPLICAS (3), DURATION (5s), CONCURRENCY (6), PORT (15400),
#                                         CONFIGURATION (Release), NO_BUILD=1 to use the existing build
set -euo pipefail
cd "$(dirname "$0")/../.."
model=${1:-dcgan-mnist}
replicas=${REPLICAS:-3}
port=${PORT:-15400}
configuration=${CONFIGURATION:-Release}
if [ "${NO_BUILD:-0}" != 1 ]; then
  dotnet build src/GanInference.Server -c "$configuration" -v quiet -nologo >/dev/null
  dotnet build src/GanInference.Cli -c "$configuration" -v quiet -nologo >/dev/null
fi
server=src/GanInference.Server/bin/$configuration/net10.0/GanInference.Server.dll
gan() { dotnet "src/GanInference.Cli/bin/$configuration/net10.0/gan.dll" "$@"; }

pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true' EXIT
servers=()
for i in $(seq 1 "$replicas"); do
  dotnet "$server" --urls "http://127.0.0.1:$((port + i))" --Http:Urls="http://127.0.0.1:$((port + 100 + i))" --Models:Path=models >/dev/null 2>&1 &
  pids+=($!)
  servers+=(--server "http://127.0.0.1:$((port + i))")
done
for i in $(seq 1 "$replicas"); do
  for _ in $(seq 1 120); do gan --server "http://127.0.0.1:$((port + i))" models >/dev/null 2>&1 && break; sleep 0.5; done
done

gan "${servers[@]}" bench --model "$model" --concurrency "${CONCURRENCY:-6}" --warmup 1s --duration "${DURATION:-5s}" \
  --metrics-url "http://127.0.0.1:$((port + 101))/metrics" | grep -E "^(server|requests|images)" || true
total=0
declare -a counts
for i in $(seq 1 "$replicas"); do
  n=$(curl -s "http://127.0.0.1:$((port + 100 + i))/metrics" | awk -v m="$model" '/^gan_inference_request_success_total\{/ && index($0, "model=\"" m "\"") { s += $NF } END { print s + 0 }')
  counts[i]=$n
  total=$((total + n))
done
for i in $(seq 1 "$replicas"); do
  awk -v i="$i" -v n="${counts[i]}" -v t="$total" -v r="$replicas" 'BEGIN { printf "replica %d: %d successful requests (%.1f %% of an even share)\n", i, n, t ? 100 * n * r / t : 0 }'
done

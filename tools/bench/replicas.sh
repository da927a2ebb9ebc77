#!/usr/bin/env bash
# Client-side balancing on loopback (docs/scaling.md): starts REPLICAS server processes on models/, runs
# `gan bench` with one --server per replica, then prints each replica's successful-request counter.
#   tools/bench/replicas.sh [MODEL]      env: REPLICAS (3), DURATION (5s), WARMUP (1s), CONCURRENCY (6), PORT (15400: the first ports tried),
#                                         START_SECONDS (120), CONFIGURATION (Release), NO_BUILD=1 to use the existing build
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
# The first port at or above $1 that can be bound now. PORT is only where the search starts: its neighbours may be
# taken (a replica on a taken port exits at start). The docs check hands scripts ports at least 1,024 below the
# ephemeral range, so counting up from one stays out of the range client sockets draw from.
next_free_port() {
  python3 -c 'import socket, sys
port = int(sys.argv[1])
while True:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            break
        except OSError:
            port += 1
print(port)' "$1"
}
# Replica $1's successful requests for the model so far, from its metrics listener.
successes() {
  curl -sf "http://127.0.0.1:${http_port[$1]}/metrics" \
    | awk -v m="$model" '/^gan_inference_request_success_total\{/ && index($0, "model=\"" m "\"") { s += $NF } END { print s + 0 }'
}

# Each replica logs to its own file; a replica that exits or is not serving within START_SECONDS (120) stops the
# script with its log, instead of leaving a counter to read from a port nobody listens on.
work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
servers=()
declare -a grpc_port http_port
next=$((port + 1))
for i in $(seq 1 "$replicas"); do
  grpc_port[i]=$(next_free_port "$next")
  http_port[i]=$(next_free_port $((grpc_port[i] + 1)))
  next=$((http_port[i] + 1))
  dotnet "$server" --urls "http://127.0.0.1:${grpc_port[i]}" --Http:Urls="http://127.0.0.1:${http_port[i]}" --Models:Path=models \
    --Models:Watch=false >"$work/replica-$i.log" 2>&1 &
  pids+=($!)
  servers+=(--server "http://127.0.0.1:${grpc_port[i]}")
done
deadline=$((SECONDS + ${START_SECONDS:-120}))
for i in $(seq 1 "$replicas"); do
  # Serving: the model answers a generation, and the metrics listener the counts are read from answers.
  until gan --server "http://127.0.0.1:${grpc_port[i]}" generate --model "$model" --seed 1 --out "$work/warm-$i" >/dev/null 2>&1 \
      && curl -sf "http://127.0.0.1:${http_port[i]}/metrics" >/dev/null; do
    if ! kill -0 "${pids[$((i - 1))]}" 2>/dev/null; then
      echo "replicas.sh: replica $i exited at start:" >&2; tail -5 "$work/replica-$i.log" >&2; exit 1
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "replicas.sh: replica $i was not serving '$model' within ${START_SECONDS:-120} s:" >&2; tail -5 "$work/replica-$i.log" >&2; exit 1
    fi
    sleep 0.25
  done
done
# A few concurrent requests on each replica, all at once: load arriving is what makes a server measure the model's
# batch sizes (docs/performance.md), which must not fall into the measured phase.
warm=()
for i in $(seq 1 "$replicas"); do
  gan --server "http://127.0.0.1:${grpc_port[i]}" bench --model "$model" --concurrency 4 --warmup 0s --duration 1s >"$work/warm-$i.txt" 2>&1 &
  warm+=($!)
done
for i in $(seq 1 "$replicas"); do
  wait "${warm[$((i - 1))]}" || { echo "replicas.sh: warming replica $i failed:" >&2; tail -5 "$work/warm-$i.txt" >&2; exit 1; }
done
# Each replica's counter before the run: the warm-up above is not part of the spread.
declare -a before
for i in $(seq 1 "$replicas"); do
  before[i]=$(successes "$i")
done

gan "${servers[@]}" bench --model "$model" --concurrency "${CONCURRENCY:-6}" --warmup "${WARMUP:-1s}" --duration "${DURATION:-5s}" \
  --metrics-url "http://127.0.0.1:${http_port[1]}/metrics" --json "$work/bench.json" >"$work/bench.txt" 2>&1 || { cat "$work/bench.txt" >&2; exit 1; }
python3 -c 'import json, sys; r = json.load(open(sys.argv[1])); print("requests: %d succeeded, %d failed; %.1f images/s" % (r["succeeded"], r["failed"], r["imagesPerSecond"]))' "$work/bench.json"
total=0
declare -a counts
for i in $(seq 1 "$replicas"); do
  n=$(successes "$i")
  n=$((n - before[i]))
  counts[i]=$n
  total=$((total + n))
done
for i in $(seq 1 "$replicas"); do
  awk -v i="$i" -v n="${counts[i]}" -v t="$total" -v r="$replicas" 'BEGIN { printf "replica %d: %d successful requests (%.1f %% of an even share)\n", i, n, t ? 100 * n * r / t : 0 }'
done

#!/usr/bin/env bash
# Unix domain socket vs loopback TCP (issue 17): one Release server serving MODEL listens on both (`--urls` and
# `Grpc:UnixSocket`); `gan bench` drives it in turn over `http://127.0.0.1:PORT` and `unix:///SOCKET`, with
# CONCURRENCY single-image clients (closed loop, RAW_U8). ROUNDS (default 2) repeats the pair, alternating which
# goes first; the first round also warms the JIT, so the last round is the figure. Prints a table with the
# ratio unix / tcp per round.
# Usage: tools/bench/unix-socket.sh [MODEL] [OUTDIR]   (from the repository root; DURATION, WARMUP, CONCURRENCY, ROUNDS,
# PORT, HTTP_PORT override; CONFIGURATION (Release; the docs check uses Debug), NO_BUILD=1 uses the binaries already built)
set -euo pipefail
model=${1:-dcgan-mnist}
out=${2:-artifacts/bench-unix}
duration=${DURATION:-15s}
warmup=${WARMUP:-10s}
concurrency=${CONCURRENCY:-32}
rounds=${ROUNDS:-2}
mkdir -p "$out"

configuration=${CONFIGURATION:-Release}
if [ "${NO_BUILD:-0}" != 1 ]; then
  dotnet build -c "$configuration" src/GanInference.Server --verbosity quiet >"$out/build.txt" 2>&1 || { cat "$out/build.txt" >&2; exit 1; }
  dotnet build -c "$configuration" src/GanInference.Cli --verbosity quiet >>"$out/build.txt" 2>&1 || { cat "$out/build.txt" >&2; exit 1; }
fi
server_dll=src/GanInference.Server/bin/$configuration/net10.0/GanInference.Server.dll
gan="dotnet src/GanInference.Cli/bin/$configuration/net10.0/gan.dll"
port=${PORT:-5350}; http=${HTTP_PORT:-8050}

# The server serves this one model only (a copy of its folder), so nothing else loads beside it.
work=$(mktemp -d); cp -r "models/$model" "$work/"
socket="$work/gan.sock"
dotnet "$server_dll" --urls "http://127.0.0.1:$port" --Http:Urls="http://127.0.0.1:$http" --Grpc:UnixSocket="$socket" \
  --Models:Path="$work" --Models:Watch=false --Logging:LogLevel:Default=Warning >"$out/server.log" 2>&1 &
server_pid=$!
trap 'kill -TERM "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 240); do
  if $gan models --server "unix://$socket" >/dev/null 2>&1; then break; fi
  kill -0 "$server_pid" 2>/dev/null || { echo "the server exited at start:" >&2; tail -5 "$out/server.log" >&2; exit 1; }
  sleep 0.25
done

{ echo "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"; echo "cores=$(nproc)"; echo "dotnet=$(dotnet --version)"
  echo "model=$model concurrency=$concurrency duration=$duration warmup=$warmup rounds=$rounds"; } >"$out/machine.txt"

for round in $(seq 1 "$rounds"); do
  order=(tcp unix); [ $((round % 2)) = 0 ] && order=(unix tcp)
  for transport in "${order[@]}"; do
    address="http://127.0.0.1:$port"; [ "$transport" = unix ] && address="unix://$socket"
    echo "== round $round: $address"
    $gan bench --server "$address" --metrics-url "http://127.0.0.1:$http/metrics" \
      --model "$model" --concurrency "$concurrency" --count 1 --format raw-u8 --duration "$duration" --warmup "$warmup" \
      --json "$out/$round-$transport.json" >"$out/$round-$transport.txt" 2>&1 || { cat "$out/$round-$transport.txt" >&2; exit 1; }
  done
done

python3 - "$out" "$rounds" <<'PY' | tee "$out/summary.txt"
import json, sys
out, rounds = sys.argv[1], int(sys.argv[2])
print("| round | transport | images/s | p50 ms | p99 ms | failed | unix / tcp |")
print("| --- | --- | --- | --- | --- | --- | --- |")
for n in range(1, rounds + 1):
    r = {t: json.load(open(f"{out}/{n}-{t}.json")) for t in ("tcp", "unix")}
    for t, x in r.items():
        print(f"| {n} | {t} | {x['imagesPerSecond']:.1f} | {x['latencyMs']['p50']:.2f} | {x['latencyMs']['p99']:.2f} | {x['failed']} "
              f"| {r['unix']['imagesPerSecond'] / r['tcp']['imagesPerSecond']:.3f} |")
PY

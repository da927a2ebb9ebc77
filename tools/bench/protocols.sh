#!/usr/bin/env bash
# The "Protocols" figures of docs/performance.md: one Release server serving MODEL, driven in turn over gan.v1
# (Generate), the Open Inference Protocol over gRPC (ModelInfer) and OIP REST (POST /v2/models/{m}/infer), each by
# `gan bench --protocol ...` with 32 clients (closed loop) x 1 image, RAW_U8 (OIP's `image` output); then the
# throughput ratios OIP gRPC / gan.v1 and REST / gan.v1.
# ROUNDS (default 2) repeats the three runs on the same server: the first round also warms the JIT (tiered
# compilation settles over the first 10-20 s under load, docs/performance.md), so the last round is the figure.
# Odd rounds run gan, oip, rest; even rounds rest, oip, gan, so a slowdown during a round does not always count
# against the same surfaces.
# Usage: tools/bench/protocols.sh [MODEL] [OUTDIR]   (from the repository root; DURATION, WARMUP, CONCURRENCY, ROUNDS,
# PORT, HTTP_PORT override; CONFIGURATION (Release; the docs check uses Debug), NO_BUILD=1 uses the binaries already built)
set -euo pipefail
model=${1:-dcgan-mnist}
out=${2:-artifacts/bench-protocols}
duration=${DURATION:-10s}
warmup=${WARMUP:-5s}
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
port=${PORT:-5340}; http=${HTTP_PORT:-8040}

# The server serves this one model only (a copy of its folder), so nothing else loads beside it.
repo=$(mktemp -d); cp -r "models/$model" "$repo/"
dotnet "$server_dll" --urls "http://127.0.0.1:$port" --Http:Urls="http://127.0.0.1:$http" \
  --Models:Path="$repo" --Models:Watch=false --Logging:LogLevel:Default=Warning >"$out/server.log" 2>&1 &
server_pid=$!
trap 'kill -TERM "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; rm -rf "$repo"' EXIT
for _ in $(seq 1 240); do
  if $gan models --server "http://127.0.0.1:$port" >/dev/null 2>&1; then break; fi
  kill -0 "$server_pid" 2>/dev/null || { echo "the server exited at start:" >&2; tail -5 "$out/server.log" >&2; exit 1; }
  sleep 0.25
done

{ echo "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"; echo "cores=$(nproc)"; echo "dotnet=$(dotnet --version)"
  echo "model=$model concurrency=$concurrency duration=$duration warmup=$warmup rounds=$rounds"; } >"$out/machine.txt"

for round in $(seq 1 "$rounds"); do
  order=(gan oip rest); [ $((round % 2)) = 0 ] && order=(rest oip gan)
  for protocol in "${order[@]}"; do
    extra=(); [ "$protocol" = rest ] && extra=(--http "http://127.0.0.1:$http")
    echo "== round $round: --protocol $protocol"
    $gan bench --protocol "$protocol" --server "http://127.0.0.1:$port" "${extra[@]}" --metrics-url "http://127.0.0.1:$http/metrics" \
      --model "$model" --concurrency "$concurrency" --count 1 --format raw-u8 --duration "$duration" --warmup "$warmup" \
      --json "$out/$round-$protocol.json" >"$out/$round-$protocol.txt" 2>&1 || { cat "$out/$round-$protocol.txt" >&2; exit 1; }
  done
done

python3 - "$out" "$rounds" <<'PY' | tee "$out/summary.txt"
import json, sys
out, rounds = sys.argv[1], int(sys.argv[2])
print("| round | --protocol | request | images/s | p50 ms | p99 ms | mean batch | failed | ratio to gan.v1 |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
for n in range(1, rounds + 1):
    r = {p: json.load(open(f"{out}/{n}-{p}.json")) for p in ("gan", "oip", "rest")}
    for p, x in r.items():
        batch = next((h["mean"] for h in x["serverMetrics"].get("histograms", []) if "batch_size" in h["name"]), float("nan"))
        # A phase too short for a busy machine can end before gan.v1 completes an image: no ratio, not a traceback.
        base = r["gan"]["imagesPerSecond"]
        ratio = f"{x['imagesPerSecond'] / base:.3f}" if base > 0 else "n/a (gan.v1 completed no image)"
        print(f"| {n} | {p} | `{x['rpc']}` | {x['imagesPerSecond']:.1f} | {x['latencyMs']['p50']:.2f} | {x['latencyMs']['p99']:.2f} | {batch:.1f} "
              f"| {x['failed']} | {ratio} |")
PY

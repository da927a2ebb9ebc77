#!/usr/bin/env bash
# Issue 17's allocation budget: bytes the server allocates per image on the Generate RAW_U8 path at 256²×3
# (bench-dcgan-256, 16-image requests, 2 clients), unary and streamed, and its GC pauses, from the server's own
# runtime counters (`gan bench`'s serverMetrics.runtime: dotnet_gc_heap_total_allocated_bytes_total and
# dotnet_gc_pause_time_seconds_total over the measured phase). What it counts: every managed byte the server process
# allocated in that window (its own code, ASP.NET Core, gRPC, OpenTelemetry, timers), divided by the images received;
# nothing is subtracted. An image is 256·256·3 = 196,608 bytes; RAW replies are written into pooled chunk buffers
# (docs/architecture.md), so the reply bytes themselves are in that total only when a pool misses. The server's
# allocation rate with no load (IDLE seconds before the runs) is printed too, as bytes per image at the run's rate,
# so the part that does not depend on the load can be told apart on a slow machine.
# Usage: tools/bench/allocations.sh [OUTDIR]   (DURATION, WARMUP, IDLE (10), CONFIGURATION (Release), NO_BUILD=1 as in tools/bench/perf.sh;
# SERVER_ARGS: more server arguments, split on spaces, e.g. SERVER_ARGS=--Limits:TransportBlockBytes=0 for Kestrel's own pool;
# WINDOWS: the clients' HTTP/2 stream windows to run each mode with (`gan bench --stream-window`), default 4194304 (the
# client's default); WINDOWS="4194304 65535" also runs with HTTP/2's own 64 KiB window, what a client that sets none gets)
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-artifacts/bench-allocations}
duration=${DURATION:-30s}
warmup=${WARMUP:-20s}
mkdir -p "$out"
[ -f tools/bench/models/bench-dcgan-256/model.onnx ] || tools/bench/make-models.sh >/dev/null

configuration=${CONFIGURATION:-Release}
if [ "${NO_BUILD:-0}" != 1 ]; then
  dotnet build -c "$configuration" src/GanInference.Server >/dev/null
  dotnet build -c "$configuration" src/GanInference.Cli >/dev/null
fi
gan="dotnet src/GanInference.Cli/bin/$configuration/net10.0/gan.dll"
port=${PORT:-5330}; metrics=${METRICS_PORT:-9530}

# A repository with the one model, so nothing else loads or runs.
repo=$(mktemp -d)
ln -s "$PWD/tools/bench/models/bench-dcgan-256" "$repo/bench-dcgan-256"
dotnet "src/GanInference.Server/bin/$configuration/net10.0/GanInference.Server.dll" --urls "http://127.0.0.1:$port" --Http:Urls="http://127.0.0.1:$metrics" \
  --Models:Path="$repo" --Models:Watch=false --Logging:LogLevel:Default=Warning ${SERVER_ARGS:-} &
server_pid=$!
trap 'kill -TERM $server_pid 2>/dev/null; wait $server_pid 2>/dev/null || true; rm -rf "$repo"' EXIT
for _ in $(seq 1 240); do $gan models --server "http://127.0.0.1:$port" 2>/dev/null | grep -q bench-dcgan-256 && break; sleep 0.5; done

# The idle rate: two scrapes IDLE seconds apart before any load.
allocated() { curl -sf "http://127.0.0.1:$metrics/metrics" | awk '/^dotnet_gc_heap_total_allocated_bytes_total/ { print $2 }'; }
idle=${IDLE:-10}
idle_start=$(allocated); sleep "$idle"; idle_end=$(allocated)
echo "$idle_start $idle_end $idle" > "$out/idle.txt"

windows=${WINDOWS:-4194304}
for window in $windows; do
  for mode in unary stream; do
    extra=(); [ "$mode" = stream ] && extra=(--stream)
    $gan bench --server "http://127.0.0.1:$port" --metrics-url "http://127.0.0.1:$metrics/metrics" --model bench-dcgan-256 \
      --format raw-u8 --count 16 --concurrency 2 "${extra[@]}" --stream-window "$window" --duration "$duration" --warmup "$warmup" \
      --json "$out/rawu8-256-$mode-w$window.json" >/dev/null
  done
done

/usr/bin/python3 - "$out" $windows <<'PY'
import json, sys, os
start, end, seconds = open(os.path.join(sys.argv[1], "idle.txt")).read().split()
idle_rate = (float(end) - float(start)) / float(seconds)
print(f'idle: the server allocated {idle_rate:,.0f} bytes/s with no load ({seconds} s, one /metrics scrape included)')
for window, mode in ((w, m) for w in sys.argv[2:] for m in ("unary", "stream")):
    r = json.load(open(os.path.join(sys.argv[1], f"rawu8-256-{mode}-w{window}.json"))); rt = r["serverMetrics"]["runtime"]
    per = rt["allocatedBytesPerImage"]
    print(f'{mode}, client window {int(window):,} bytes: {r["images"]} images at {r["imagesPerSecond"]:.1f}/s, {r["failed"]} failed; server allocated {per:,.0f} bytes per image '
          f'(of which the idle rate is {idle_rate / r["imagesPerSecond"]:,.0f}) '
          f'(an image is 196,608 bytes); GC: {rt.get("gen0Collections")} gen0, {rt.get("gen1Collections")} gen1, '
          f'{rt.get("gen2Collections")} gen2, paused {rt.get("gcPauseMs", 0):.1f} ms ({100 * rt.get("gcPauseShare", 0):.2f} % of {r["elapsedSeconds"]:.1f} s); '
          f'working set {rt.get("workingSetBytes", 0) / 1e6:.0f} MB')
PY

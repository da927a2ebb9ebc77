#!/usr/bin/env bash
# The "Batching that knows the hardware" figures of docs/performance.md: does dynamic batching pay on this machine?
# 1. The in-process ceiling of MODEL at every batch size the batcher may profile (1, 2, 4, ... maxBatchSize), and at
#    batch 1 with two runs in flight at once on the one session (does a second concurrent batch add throughput?).
# 2. One Release server per setting, driven by `gan bench` with 1, 2, 4, 8, 16, 32 and 64 closed-loop clients of one
#    RAW_U8 image each: "on" (the manifest's settings, the default policy measured and its runs in flight), "one"
#    (the same with Models:Overrides:MODEL:MaxRunsInFlight=1: one batch at a time, as before runs in flight), and "off"
#    (Models:Overrides:MODEL:MaxBatchSize=1: no dynamic batching).
# The servers run side by side and take turns at every client count (REPEATS rounds, the median reported).
# Then OUTDIR/batching.md: per client count, images/s per setting, on/off, and on as a fraction of the best
# in-process ceiling (any batch size, one run in flight) and of the batch-1 ceiling with two runs in flight, with the
# server's batch size profile (GetModel over REST) and mean batch.
# Usage: tools/bench/batching.sh [MODEL] [OUTDIR]   (from the repository root, on an otherwise idle machine)
# Environment: DURATION, WARMUP (the ceiling's sizes, and each server's first run), REPEAT_WARMUP (5s: each server's later
# runs), REPEATS (1: rounds of the settings at each client count), CLIENTS ("1 2 4 8 16 32 64"), SETTINGS ("on one off";
# "on" and "off" are required: they are the ratio), PORT, METRICS_PORT,
# CONFIGURATION (Release; the docs check uses Debug), NO_BUILD=1 (use the binaries already built).
set -euo pipefail
model=${1:-dcgan-mnist}
out=${2:-artifacts/bench-batching}
duration=${DURATION:-15s}
warmup=${WARMUP:-15s}  # tiered JIT settles after ~10-20 s under load (docs/performance.md); the profile runs in the first warm-up
clients=${CLIENTS:-1 2 4 8 16 32 64}
settings=${SETTINGS:-on one off}
mkdir -p "$out"

configuration=${CONFIGURATION:-Release}
if [ "${NO_BUILD:-0}" != 1 ]; then
  dotnet build -c "$configuration" src/GanInference.Server --verbosity quiet >"$out/build.txt" 2>&1 || { cat "$out/build.txt" >&2; exit 1; }
  dotnet build -c "$configuration" src/GanInference.Cli --verbosity quiet >>"$out/build.txt" 2>&1 || { cat "$out/build.txt" >&2; exit 1; }
fi
server_dll=src/GanInference.Server/bin/$configuration/net10.0/GanInference.Server.dll
gan="dotnet src/GanInference.Cli/bin/$configuration/net10.0/gan.dll"
port=${PORT:-5350}; metrics=${METRICS_PORT:-9550}

# The batch sizes a profile measures: the powers of two below maxBatchSize, and it (docs/manifest.md).
max_batch=$(python3 -c 'import json,sys; print((json.load(open(sys.argv[1])).get("batching") or {}).get("maxBatchSize") or 64)' "models/$model/gan.json")
sizes=$(python3 -c 'import sys; m=int(sys.argv[1]); s=[]; b=1
while b < m: s.append(b); b*=2
print(",".join(map(str, s + [m])))' "$max_batch")

{ echo "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"; echo "cores=$(nproc)"; echo "dotnet=$(dotnet --version)"
  echo "model=$model clients=$clients duration=$duration warmup=$warmup sizes=$sizes configuration=$configuration"; } >"$out/machine.txt"

echo "== in-process ceiling ($model, batch $sizes)"
$gan bench --in-process --model-dir "models/$model" --batch "$sizes" --duration "$duration" --warmup "$warmup" \
  --json "$out/ceiling.json" >"$out/ceiling.txt" 2>&1 || { cat "$out/ceiling.txt" >&2; exit 1; }

echo "== in-process ceiling, batch 1, 2 runs in flight"
$gan bench --in-process --model-dir "models/$model" --batch 1 --parallel-runs 2 --duration "$duration" --warmup "$warmup" \
  --json "$out/ceiling-parallel2.json" >"$out/ceiling-parallel2.txt" 2>&1 || { cat "$out/ceiling-parallel2.txt" >&2; exit 1; }

# One server per setting, all started at once, each serving this one model only (a copy of its folder), so that the
# settings can take turns at every client count: this VM's speed drifts by tens of percent over minutes, and a pair
# measured back to back sees the same machine. A server with no load costs nothing measurable.
repo=$(mktemp -d); cp -r "models/$model" "$repo/"
pids=()
trap 'for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done; for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done; rm -rf "$repo"' EXIT
declare -A grpc_port metrics_port
start_server() { # setting name, index, extra configuration arguments
  local name=$1 index=$2; shift 2
  grpc_port[$name]=$((port + index)); metrics_port[$name]=$((metrics + index))
  dotnet "$server_dll" --urls "http://127.0.0.1:${grpc_port[$name]}" --Http:Urls="http://127.0.0.1:${metrics_port[$name]}" \
    --Models:Path="$repo" --Models:Watch=false --Logging:LogLevel:Default=Warning "$@" >"$out/server-$name.log" 2>&1 &
  local pid=$!; pids+=("$pid")
  for _ in $(seq 1 240); do
    if $gan models --server "http://127.0.0.1:${grpc_port[$name]}" >/dev/null 2>&1; then return 0; fi
    kill -0 "$pid" 2>/dev/null || { echo "the server exited at start:" >&2; tail -5 "$out/server-$name.log" >&2; exit 1; }
    sleep 0.25
  done
  echo "server did not start" >&2; exit 1
}

index=0
for setting in $settings; do
  case $setting in
    on) extra=() ;;
    one) extra=("--Models:Overrides:$model:MaxRunsInFlight=1") ;;
    off) extra=("--Models:Overrides:$model:MaxBatchSize=1") ;;
    *) echo "unknown setting '$setting' in SETTINGS (on, one, off)" >&2; exit 2 ;;
  esac
  echo "== server, batching $setting ${extra[*]:-}"
  start_server "$setting" "$index" "${extra[@]}"
  index=$((index + 1))
done

# Every client count, REPEATS rounds of the settings in turn; the first run of each server warms it up for WARMUP
# (JIT, and its batch size profile, taken when load first arrives), later runs for REPEAT_WARMUP.
repeats=${REPEATS:-1}
# REPEAT_WARMUP defaults to 5s, or WARMUP where that is shorter.
repeat_warmup=${REPEAT_WARMUP:-$(python3 -c 'import re, sys
def seconds(t):
    m = re.fullmatch(r"([0-9.]+)(ms|s|m)?", t); v = float(m.group(1)); return v / 1000 if m.group(2) == "ms" else v * 60 if m.group(2) == "m" else v
print(sys.argv[1] if seconds(sys.argv[1]) < 5 else "5s")' "$warmup")}
declare -A warmed
for c in $clients; do
  for round in $(seq 1 "$repeats"); do
    for setting in $settings; do
      echo "   $c clients, round $round, $setting"
      w=$warmup; [ -n "${warmed[$setting]:-}" ] && w=$repeat_warmup; warmed[$setting]=1
      $gan bench --server "http://127.0.0.1:${grpc_port[$setting]}" --metrics-url "http://127.0.0.1:${metrics_port[$setting]}/metrics" --model "$model" \
        --concurrency "$c" --count 1 --format raw-u8 --duration "$duration" --warmup "$w" \
        --json "$out/$setting-$c-r$round.json" >"$out/$setting-$c-r$round.txt" 2>&1 || { cat "$out/$setting-$c-r$round.txt" >&2; exit 1; }
    done
  done
done
# GetModel over REST: the policy, the batch size profile the batcher follows and its chosen size.
for setting in $settings; do
  python3 -c 'import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1]).read().decode())' \
    "http://127.0.0.1:${metrics_port[$setting]}/v1/models/$model" >"$out/model-$setting.json"
done

python3 - "$out" "$model" "$clients" "$settings" "$repeats" <<'PY' | tee "$out/batching.md"
import json, statistics, sys
out, model, clients, settings, repeats = sys.argv[1], sys.argv[2], sys.argv[3].split(), sys.argv[4].split(), int(sys.argv[5])
ceiling = json.load(open(f"{out}/ceiling.json"))["results"]
best = max(ceiling, key=lambda r: r["imagesPerSecond"])
def mean_batch(x):
    return next((h["mean"] for h in x["serverMetrics"].get("histograms", []) if "batch_size" in h["name"]), float("nan"))
print(f"# Dynamic batching on `{model}`\n")
print("In-process ceiling per batch size, one run in flight (images/s): " + ", ".join(f"{r['batch']}: {r['imagesPerSecond']:.0f}" for r in ceiling)
      + f"; best: batch {best['batch']}, {best['imagesPerSecond']:.0f} images/s.\n")
two = json.load(open(f"{out}/ceiling-parallel2.json"))["results"][0]["imagesPerSecond"]
one = next(r["imagesPerSecond"] for r in ceiling if r["batch"] == 1)
print(f"Batch 1 with two runs in flight on the one session: {two:.0f} images/s, {two / one:.2f}x one run in flight.\n")
for s in settings:
    batching = json.load(open(f"{out}/model-{s}.json")).get("batching", {})
    profile = batching.get("profile")
    if profile:
        runs = profile.get("runsInFlight", [])
        print(f"Server `{s}`: batch size profile (policy {batching.get('policy')}, images/s): "
              + ", ".join(f"{x.get('batchSize')}: {x.get('imagesPerSecond', 0):.0f}" for x in profile.get("sizes", []))
              + f"; chosen batch size {profile.get('chosenBatchSize')} (tolerance {profile.get('tolerance')})"
              + ("; runs in flight at batch 1: " + ", ".join(f"{x.get('runsInFlight')}: {x.get('imagesPerSecond', 0):.0f}" for x in runs) if runs else "")
              + ("; with that many at once: " + ", ".join(f"{x.get('batchSize')}: {x.get('imagesPerSecond', 0):.0f}" for x in profile.get("sizesAtChosenRuns", [])) if profile.get("sizesAtChosenRuns") else "")
              + f"; runs in flight now {batching.get('effectiveRunsInFlight')} of {batching.get('maxRunsInFlight')}.\n")
    else:
        print(f"Server `{s}`: no batch size profile (policy {batching.get('policy')}, runs in flight {batching.get('effectiveRunsInFlight')}).\n")
ceil = best["imagesPerSecond"]
others = [s for s in settings if s != "off"]
print("| clients | " + " | ".join(f"{s} images/s" for s in settings) + " | " + " | ".join(f"{s} / off" for s in others)
      + " | on / best ceiling | on / 2-run batch-1 ceiling | mean batch " + " / ".join(settings) + " | failed " + "/".join(settings) + " |")
print("|" + " --- |" * (1 + len(settings) + len(others) + 4))
for c in clients:
    runs = {s: [json.load(open(f"{out}/{s}-{c}-r{k}.json")) for k in range(1, repeats + 1)] for s in settings}
    # The median round of each setting (of 1: the one run); the rounds themselves follow the table.
    ips = {s: statistics.median(x["imagesPerSecond"] for x in runs[s]) for s in settings}
    on = ips["on"]
    print(f"| {c} | " + " | ".join(f"{ips[s]:.0f}" for s in settings) + " | "
          + " | ".join(f"{ips[s] / ips['off']:.2f}" for s in others)
          + f" | {on / ceil:.2f} | {on / two:.2f} | " + " / ".join(f"{statistics.median(mean_batch(x) for x in runs[s]):.1f}" for s in settings)
          + " | " + "/".join(str(sum(x["failed"] for x in runs[s])) for s in settings) + " |")
if repeats > 1:
    print(f"\nThe table gives the median of {repeats} rounds; each round ran the settings in turn. Every round, images/s:\n")
    for c in clients:
        print(f"- {c} clients: " + "; ".join(f"{s} " + ", ".join(f"{json.load(open(f'{out}/{s}-{c}-r{k}.json'))['imagesPerSecond']:.0f}" for k in range(1, repeats + 1)) for s in settings))
PY

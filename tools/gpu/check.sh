#!/usr/bin/env bash
# The GPU check (issue 12): from a clean checkout on a machine with an NVIDIA GPU, in one run (aim: under 8 minutes):
#   1. builds the CUDA variant (-p:OnnxRuntimeGpu=true, output in artifacts/gpu/) and runs tools/ci/checks/20-gpu-build.sh;
#   2. runs the Core and Server tests with Inference:ExecutionProvider=cuda (the determinism tests included: their
#      oracles are CPU sessions, so they also hold CUDA against CPU within each test's tolerance);
#   3. runs tools/bench/perf.sh on CUDA for dcgan-mnist and the largest latent-fed model, plus 64 single-image
#      clients with dynamic batching on and off and a warm-start probe, while sampling nvidia-smi;
#   4. writes every figure as summary.json + summary.md (and the raw files) into one output folder.
# With no GPU it stops at once with one line saying so. --cpu runs the same steps on the CPU build and provider, so
# everything but the provider can be proven on a machine without a GPU.
#
# Usage: tools/gpu/check.sh [--cpu] [--quick] [--device N] [--out DIR] [--duration 6s] [--warmup 3s] [--models "a b"]
#                           [--test-filter EXPR] [--skip-tests] [--skip-bench]
#   --duration/--warmup  each benchmark phase (tools/bench/perf.sh's DURATION/WARMUP; 11 phases per model)
#   --quick              3 s phases after 2 s warm-up, dcgan-mnist only (when device time is short)
#   --models             models to benchmark (default: dcgan-mnist and the largest unconditional/class-conditional model)
#   --test-filter        a `dotnet test --filter` expression that narrows the tests (e.g. for a quick dry run)
set -euo pipefail
cd "$(dirname "$0")/../.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

provider=cuda; device=0; out=""; duration=6s; warmup=3s; models=""; test_filter=""; run_tests=1; run_bench=1
while [ $# -gt 0 ]; do
  case "$1" in
    --cpu) provider=cpu; shift ;;
    --quick) duration=3s; warmup=2s; models=${models:-dcgan-mnist}; shift ;;
    --device) device=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --models) models=$2; shift 2 ;;
    --test-filter) test_filter=$2; shift 2 ;;
    --skip-tests) run_tests=0; shift ;;
    --skip-bench) run_bench=0; shift ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "tools/gpu/check.sh: unknown argument '$1' (--help)" >&2; exit 2 ;;
  esac
done
out=${out:-artifacts/gpu-check/$(date -u +%Y%m%dT%H%M%SZ)-$provider}
mkdir -p "$out"
out=$(cd "$out" && pwd)
log() { echo "tools/gpu/check.sh: $*"; }
started=$SECONDS

# ---- 0. the machine: a GPU and a new enough driver, or stop here with one clear line ----
gpu_name=""; driver=""
if [ "$provider" = cuda ]; then
  if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L >/dev/null 2>&1 || [ -z "$(nvidia-smi -L 2>/dev/null)" ]; then
    echo "tools/gpu/check.sh: FAILED: no NVIDIA GPU here (nvidia-smi is missing or lists no device); run it on a GPU machine, or with --cpu to check everything but the provider" >&2
    exit 3
  fi
  gpu_line=$(nvidia-smi -i "$device" --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -1) \
    || { echo "tools/gpu/check.sh: FAILED: GPU $device does not exist (nvidia-smi -L lists: $(nvidia-smi -L | tr '\n' ' '))" >&2; exit 3; }
  gpu_name=$(echo "$gpu_line" | cut -d, -f1 | xargs); driver=$(echo "$gpu_line" | cut -d, -f2 | xargs)
  if [ "${driver%%.*}" -lt 580 ] 2>/dev/null; then
    echo "tools/gpu/check.sh: FAILED: NVIDIA driver $driver on $gpu_name is older than 580, the minimum for CUDA 13 (ONNX Runtime 1.31's CUDA build)" >&2
    exit 3
  fi
  log "GPU $device: $gpu_line"
fi
{
  echo "date_utc=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "provider=$provider"; echo "device=$device"; echo "gpu=$gpu_name"; echo "driver=$driver"
  echo "cores=$(nproc)"; echo "dotnet=$(dotnet --version)"; echo "duration=$duration"; echo "warmup=$warmup"
} >"$out/environment.txt"

# ---- 1. build: the CUDA variant (MSBuild reads OnnxRuntimeGpu from the environment, so perf.sh's builds get it too) ----
if [ "$provider" = cuda ]; then
  bash tools/ci/checks/20-gpu-build.sh 2>&1 | tee "$out/gpu-build-check.txt"
  [ "${PIPESTATUS[0]}" = 0 ] || exit 1
  export OnnxRuntimeGpu=true
  bin=artifacts/gpu/bin
  server_dll=$bin/GanInference.Server/release/GanInference.Server.dll
  gan_dll=$bin/GanInference.Cli/release/gan.dll
else
  export OnnxRuntimeGpu=false
  server_dll=src/GanInference.Server/bin/Release/net10.0/GanInference.Server.dll
  gan_dll=src/GanInference.Cli/bin/Release/net10.0/gan.dll
fi
log "building the server and the gan tool (Release, OnnxRuntimeGpu=$OnnxRuntimeGpu)"
dotnet build -c Release src/GanInference.Server -warnaserror --verbosity quiet >"$out/build.txt" 2>&1 || { cat "$out/build.txt" >&2; exit 1; }
dotnet build -c Release src/GanInference.Cli -warnaserror --verbosity quiet >>"$out/build.txt" 2>&1 || { cat "$out/build.txt" >&2; exit 1; }
gan="dotnet $gan_dll"
provider_arg=$provider; [ "$provider" = cuda ] && provider_arg="cuda:$device"
# Every server this script or perf.sh starts, and every test server, reads these (ASP.NET configuration from the environment).
export Inference__ExecutionProvider=$provider Inference__Cuda__DeviceId=$device

# ---- 2. tests on the provider ----
status=0
if [ "$run_tests" = 1 ]; then
  filter=""
  # Two tests assert the CPU build's answer to a cuda request; on the CUDA build that request succeeds.
  [ "$provider" = cuda ] && filter="FullyQualifiedName!~Asking_for_cuda_on_the_cpu_build&FullyQualifiedName!~Cuda_with_fallback_allowed_runs_on_cpu"
  [ -n "$test_filter" ] && filter="${filter:+$filter&}($test_filter)"
  for project in GanInference.Core.Tests GanInference.Server.Tests; do
    log "dotnet test $project (Inference:ExecutionProvider=$provider${filter:+, filter $filter})"
    set +e
    dotnet test "tests/$project" ${filter:+--filter "$filter"} --logger "trx;LogFileName=$project.trx" --results-directory "$out/tests" \
      >"$out/tests-$project.txt" 2>&1
    rc=$?
    set -e
    grep -E "Passed!|Failed!|error" "$out/tests-$project.txt" | tail -3 || true
    [ $rc = 0 ] || { status=1; log "$project: tests FAILED (exit $rc), see $out/tests-$project.txt"; }
  done
fi

# ---- 3. benchmarks, with nvidia-smi sampling ----
sampler_pid=""
start_sampler() { # csv file
  [ "$provider" = cuda ] || return 0
  nvidia-smi -i "$device" --query-gpu=timestamp,utilization.gpu,utilization.memory,memory.used --format=csv,noheader,nounits -lms 500 >"$1" 2>/dev/null &
  sampler_pid=$!
}
stop_sampler() { if [ -n "$sampler_pid" ]; then kill "$sampler_pid" 2>/dev/null || true; wait "$sampler_pid" 2>/dev/null || true; sampler_pid=""; fi; }
trap 'stop_sampler; [ -n "${server_pid:-}" ] && kill "$server_pid" 2>/dev/null || true' EXIT

port=5330; metrics=9530
start_server() { # extra configuration arguments
  dotnet "$server_dll" --urls "http://127.0.0.1:$port" --Http:Urls="http://127.0.0.1:$metrics" \
    --Models:Path=models --Models:Watch=false --Logging:LogLevel:Default=Warning "$@" >>"$out/server.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 1 240); do
    if $gan models --server "http://127.0.0.1:$port" >/dev/null 2>&1; then return 0; fi
    kill -0 "$server_pid" 2>/dev/null || { echo "tools/gpu/check.sh: FAILED: the server exited at start (see $out/server.log):" >&2; tail -5 "$out/server.log" >&2; exit 1; }
    sleep 0.25
  done
  echo "tools/gpu/check.sh: FAILED: the server did not answer within 60 s" >&2; exit 1
}
stop_server() { kill -TERM "$server_pid"; wait "$server_pid" || true; server_pid=""; }
bench() { # model, dir, name, extra bench args
  local model=$1 dir=$2 name=$3; shift 3
  $gan bench --server "http://127.0.0.1:$port" --metrics-url "http://127.0.0.1:$metrics/metrics" --model "$model" \
    --duration "$duration" --warmup "$warmup" --ceiling "$dir/ceiling.json" --json "$dir/$name.json" "$@" >"$dir/$name.txt" 2>&1 \
    || { cat "$dir/$name.txt" >&2; return 1; }
}

if [ "$run_bench" = 1 ]; then
  if [ -z "$models" ]; then
    # dcgan-mnist and the largest model the in-process ceiling and `gan bench` can drive (fed by latents and labels).
    largest=$(/usr/bin/python3 - <<'PY'
import json, os
best = None
for name in sorted(os.listdir("models")):
    manifest, onnx = os.path.join("models", name, "gan.json"), os.path.join("models", name, "model.onnx")
    if os.path.exists(manifest) and os.path.exists(onnx) and json.load(open(manifest)).get("kind") in ("unconditional", "class-conditional"):
        size = os.path.getsize(onnx)
        if best is None or size > best[0]:
            best = (size, name)
print(best[1] if best else "")
PY
)
    models="dcgan-mnist"; [ -n "$largest" ] && [ "$largest" != dcgan-mnist ] && models="$models $largest"
  fi
  for model in $models; do
    dir="$out/bench/$model"; mkdir -p "$dir"
    log "perf.sh $model on $provider_arg (duration $duration, warm-up $warmup per phase)"
    start_sampler "$dir/gpu-utilisation.csv"
    DURATION=$duration WARMUP=$warmup PROVIDER=$provider_arg SERVER_DLL=$server_dll GAN_DLL=$gan_dll \
      bash tools/bench/perf.sh "$model" "$dir" >"$dir/perf.txt" 2>&1 || { stop_sampler; cat "$dir/perf.txt" >&2; log "perf.sh $model FAILED"; status=1; continue; }

    # The issue's targets that perf.sh does not measure: 64 single-image clients, batching on and off; warm start.
    log "$model: 64 single-image clients (batching on, then MaxBatchSize=1) and the warm-start probe"
    start_server
    bench "$model" "$dir" clients64-batching --concurrency 64 --count 1 --format raw-u8 || status=1
    stop_server
    start_server --Models:Batching:MaxBatchSize=1
    bench "$model" "$dir" clients64-nobatching --concurrency 64 --count 1 --format raw-u8 || status=1
    stop_server
    # Warm start: the first requests after start at batch 64 (the preferred size perf.sh's requests64-rawu8 uses), no warm-up.
    start_server
    $gan bench --server "http://127.0.0.1:$port" --model "$model" --concurrency 1 --count 64 --format raw-u8 \
      --duration 2s --warmup 0s --json "$dir/warm-start.json" >"$dir/warm-start.txt" 2>&1 || status=1
    stop_server
    stop_sampler
  done
fi

# ---- 4. one summary: JSON + Markdown ----
/usr/bin/python3 - "$out" "$provider" <<'PY' || status=1
import csv, glob, json, os, re, sys

out, provider = sys.argv[1], sys.argv[2]
env = dict(line.rstrip("\n").split("=", 1) for line in open(os.path.join(out, "environment.txt")) if "=" in line)
summary = {"environment": env, "tests": {}, "models": {}, "targets": []}

for path in sorted(glob.glob(os.path.join(out, "tests-*.txt"))):
    text = open(path).read()
    project = os.path.basename(path)[len("tests-"):-len(".txt")]
    m = re.findall(r"(Passed|Failed)!\s+-\s+Failed:\s+(\d+),\s+Passed:\s+(\d+),\s+Skipped:\s+(\d+)", text)
    summary["tests"][project] = ({"failed": int(m[-1][1]), "passed": int(m[-1][2]), "skipped": int(m[-1][3])}
                                 if m else {"error": "no test summary line (build or run failed)"})

def load(path):
    return json.load(open(path)) if os.path.exists(path) else None

for dir in sorted(glob.glob(os.path.join(out, "bench", "*"))):
    model = os.path.basename(dir)
    entry = {"ceiling": [], "server": {}, "gpu": None}
    ceiling = load(os.path.join(dir, "ceiling.json"))
    if ceiling:
        entry["provider"] = ceiling.get("provider")
        entry["ceiling"] = [{"batch": r["batch"], "imagesPerSecond": r["imagesPerSecond"], "p50Ms": r["p50Ms"], "p99Ms": r["p99Ms"]}
                            for r in ceiling["results"]]
    for path in sorted(glob.glob(os.path.join(dir, "*.json"))):
        name = os.path.basename(path)[:-5]
        if name == "ceiling":
            continue
        r = load(path)
        c = r.get("ceiling") or {}
        entry["server"][name] = {
            "executionProvider": r.get("executionProvider"), "concurrency": r.get("concurrency"), "imagesPerRequest": r.get("imagesPerRequest"),
            "format": r.get("format"), "serverMaxBatchSize": r.get("serverMaxBatchSize"), "imagesPerSecond": r.get("imagesPerSecond"),
            "p50Ms": r["latencyMs"]["p50"], "p99Ms": r["latencyMs"]["p99"], "maxMs": r["latencyMs"]["max"], "failed": r.get("failed"),
            "ratioToBestCeiling": c.get("ratio"), "ratioToSameBatchCeiling": c.get("sameBatchRatio"),
        }
    samples = os.path.join(dir, "gpu-utilisation.csv")
    if os.path.exists(samples):
        rows = [row for row in csv.reader(open(samples)) if len(row) >= 4]
        util = [float(r[1]) for r in rows if r[1].strip().replace(".", "").isdigit()]
        mem = [float(r[3]) for r in rows if r[3].strip().replace(".", "").isdigit()]
        entry["gpu"] = {"samples": len(util), "utilisationMeanPercent": round(sum(util) / len(util), 1) if util else None,
                        "utilisationMaxPercent": max(util) if util else None, "memoryUsedMaxMiB": max(mem) if mem else None}
    summary["models"][model] = entry

    # Targets (issue 12), each with the figures it is judged on.
    s = entry["server"]
    ceiling64 = next((c["imagesPerSecond"] for c in entry["ceiling"] if c["batch"] == 64), None)
    if "requests64-rawu8" in s and ceiling64:
        ratio = s["requests64-rawu8"]["imagesPerSecond"] / ceiling64
        summary["targets"].append({"model": model, "target": "64-image RAW_U8 requests >= 0.9x the in-process batch-64 ceiling",
                                   "value": round(ratio, 3), "met": ratio >= 0.9})
    if "clients64-batching" in s and "clients64-nobatching" in s and s["clients64-nobatching"]["imagesPerSecond"]:
        ratio = s["clients64-batching"]["imagesPerSecond"] / s["clients64-nobatching"]["imagesPerSecond"]
        summary["targets"].append({"model": model, "target": "64 single-image clients: dynamic batching >= 5x MaxBatchSize=1",
                                   "value": round(ratio, 2), "met": ratio >= 5})
    if "warm-start" in s and s["warm-start"]["p50Ms"]:
        # One client, batch 64, from the moment the server answers: the slowest request (the first, unless tuning or
        # allocation hits a later one) against the median of the same run.
        ratio = s["warm-start"]["maxMs"] / s["warm-start"]["p50Ms"]
        summary["targets"].append({"model": model, "target": "warm start: slowest batch-64 request in the first 2 s after start <= 2x that run's p50",
                                   "value": round(ratio, 2), "met": ratio <= 2})

json.dump(summary, open(os.path.join(out, "summary.json"), "w"), indent=2)

md = [f"# GPU check: {provider}", "",
      f"{env.get('date_utc')} · commit {env.get('commit')} · provider `{provider}`"
      + (f" · {env.get('gpu')} (driver {env.get('driver')})" if env.get("gpu") else "")
      + f" · {env.get('cores')} cores · each bench phase {env.get('duration')} after {env.get('warmup')} warm-up", ""]
if summary["tests"]:
    md += ["## Tests", "", "| project | passed | failed | skipped |", "| --- | --- | --- | --- |"]
    md += [f"| {p} | {t.get('passed', '-')} | {t.get('failed', '-')} | {t.get('skipped', '-')} |" if "error" not in t else f"| {p} | {t['error']} | | |"
           for p, t in summary["tests"].items()]
    md.append("")
for model, e in summary["models"].items():
    if not e["ceiling"] and not e["server"]:
        md += [f"## {model}", "", f"No figures: the benchmark failed (bench/{model}/perf.txt says why).", ""]
        continue
    md += [f"## {model} ({e.get('provider')})", "", "| in-process batch | images/s | p50 ms | p99 ms |", "| --- | --- | --- | --- |"]
    md += [f"| {c['batch']} | {c['imagesPerSecond']:.1f} | {c['p50Ms']:.2f} | {c['p99Ms']:.2f} |" for c in e["ceiling"]]
    md += ["", "| server run | clients × images | max batch | images/s | p50 ms | p99 ms | × best ceiling | × same-batch ceiling |",
           "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    fmt = lambda v, f: "-" if v is None else format(v, f)
    for name, r in e["server"].items():
        md.append(f"| {name} | {r['concurrency']} × {r['imagesPerRequest']} {r['format']} | {r['serverMaxBatchSize']} | {fmt(r['imagesPerSecond'], '.1f')} | "
                  f"{fmt(r['p50Ms'], '.2f')} | {fmt(r['p99Ms'], '.2f')} | {fmt(r['ratioToBestCeiling'], '.2f')} | {fmt(r['ratioToSameBatchCeiling'], '.2f')} |")
    if e["gpu"] and e["gpu"]["samples"]:
        g = e["gpu"]
        md += ["", f"GPU utilisation during this model's runs ({g['samples']} nvidia-smi samples, 0.5 s apart): mean {g['utilisationMeanPercent']} %, "
                   f"max {g['utilisationMaxPercent']} %; device memory used up to {g['memoryUsedMaxMiB']} MiB."]
    md.append("")
if summary["targets"]:
    md += ["## Targets", "", "| model | target | value | met |", "| --- | --- | --- | --- |"]
    md += [f"| {t['model']} | {t['target']} | {t['value']} | {'yes' if t['met'] else 'no'} |" for t in summary["targets"]]
    md.append("")
open(os.path.join(out, "summary.md"), "w").write("\n".join(md))
print("\n".join(md))
PY

log "done in $((SECONDS - started)) s: $out/summary.json, $out/summary.md (exit $status)"
exit $status

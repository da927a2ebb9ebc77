#!/usr/bin/env bash
# README's test command: installs what the tests need when it is missing (idempotent, quiet when present),
# runs the offline checks in tools/ci/checks/ (each installs its own needs), then every test project.
# Extra arguments go to `dotnet test` (e.g. tools/test.sh --filter FullyQualifiedName~Limits).
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

# Debian packages the tests use, keyed by the command or module that proves each is present.
missing=()
/usr/bin/python3 -c "import onnx" 2>/dev/null || missing+=(python3-onnx)
# The playground's browser tests drive Debian's Chromium through Playwright (its own browser download needs the internet).
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "tools/test.sh: the tests need the Debian packages: ${missing[*]} (run as root, or apt-get install them first)" >&2
    exit 2
  fi
  echo "tools/test.sh: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# Every shipped model passes the reference checker (full_check: shape inference included).
shopt -s nullglob
models=(models/*/model.onnx eval/*/model.onnx)
if [ ${#models[@]} -gt 0 ]; then
  /usr/bin/python3 tools/check-onnx.py "${models[@]}"
fi

# Offline checks that are not xunit tests (each script names what it checks and fails loudly).
for check in tools/ci/checks/*.sh; do
  echo "tools/test.sh: $check"
  started=$SECONDS
  bash "$check"
  echo "tools/test.sh: $check passed in $((SECONDS - started)) s"
done

# The solution is built once; then the test projects run two at a time, each into a log of its own that is printed
# when it ends (a plain `dotnet test GanInference.sln` interleaves builds with runs and started the longest project,
# Cli, last). Playground and Trainers go first, then Cli beside the lighter Server, Core and Onnx: beside Playground's
# Chromium, Cli's three-replica bench saw one replica drop out of round-robin for a while and fail its 15 % spread
# (1 of 5 runs). Extra arguments go to each `dotnet test`.
# A folder of its own: two runs on one machine must not read each other's summary.
logs=$(mktemp -d /tmp/gan-test.XXXXXX)
trap 'rm -rf "$logs"' EXIT
started=$SECONDS
dotnet build GanInference.sln -nologo -v q -clp:ErrorsOnly
echo "tools/test.sh: built in $((SECONDS - started)) s"
# Every test project under tests/, in that order (a new project runs last, never skipped).
projects=()
for name in Playground Trainers Cli Server Core Onnx; do
  [ -f "tests/GanInference.$name.Tests/GanInference.$name.Tests.csproj" ] && projects+=("tests/GanInference.$name.Tests")
done
for csproj in tests/*/*.csproj; do
  [[ " ${projects[*]} " == *" $(dirname "$csproj") "* ]] || projects+=("$(dirname "$csproj")")
done
set +e
printf '%s\n' "${projects[@]}" \
  | xargs -P 2 -I{} bash -c 'log="$0/$(basename "$1").log"; dotnet test "$1" --no-build "${@:2}" >"$log" 2>&1; status=$?; cat "$log"; exit $status' "$logs" {} "$@"
status=$?
set -e
echo "tools/test.sh: build and every test project took $((SECONDS - started)) s; $SECONDS s in all"

# One summary line over all test assemblies.
awk '/Passed!|Failed!/ { for (i = 1; i <= NF; i++) { if ($i == "Failed:") f += $(i+1); if ($i == "Passed:") p += $(i+1); if ($i == "Skipped:") s += $(i+1) } }
     END { gsub(",", "", p); printf "Tests: %d passed, %d failed, %d skipped\n", p, f, s }' "$logs"/*.log
exit "$status"

#!/usr/bin/env bash
# The docs check: every shell command in README.md, docs/**/*.md, examples/**/*.md and deploy/**/*.md runs as written
# against a real server on the shipped models/ (gRPC and HTTP/1.1 listeners), every ```console block's output is what
# its commands print, and the blocks marked `<!-- not run: ... -->` (no GPU, Kubernetes cluster or Docker engine here,
# or longer than the check) are listed and validated as far as they can be (tools/docs/cli-docs.py, whose docstring
# and docs/cli.md "How the docs are checked" give the convention; --update regenerates the console blocks).
# Also: examples/ is what tools/examples/make-examples.py writes; tools/docs/test_cli_docs.py tests the check itself.
# Installs what the documented commands need when missing (quiet when present): curl; Debian's python3-grpcio,
# python3-grpc-tools and python3-protobuf (tools/docs/grpcurl.py, the stand-in for grpcurl, which no registry CI
# reaches packages); linux-perf (tools/bench/profile.sh); node, the npm packages of tools/deploy and kubectl
# (by tools/ci/checks/30-deploy.sh, which installs them).
set -euo pipefail
cd "$(dirname "$0")/../../.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

missing=()
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v perf >/dev/null 2>&1 || missing+=(linux-perf)
/usr/bin/python3 -c "import grpc" 2>/dev/null || missing+=(python3-grpcio)
/usr/bin/python3 -c "import grpc_tools.protoc" 2>/dev/null || missing+=(python3-grpc-tools)
/usr/bin/python3 -c "import google.protobuf" 2>/dev/null || missing+=(python3-protobuf)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "cli-docs.sh: the documented commands need the Debian packages: ${missing[*]} (run as root, or apt-get install them first)" >&2
    exit 2
  fi
  echo "cli-docs.sh: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if [ ! -d tools/deploy/node_modules ] || { ! command -v kubectl >/dev/null 2>&1 && [ ! -x tools/deploy/.bin/kubectl ]; }; then
  bash tools/ci/checks/30-deploy.sh
fi

/usr/bin/python3 tools/examples/make-examples.py --check
dotnet build src/GanInference.Server -v q -nologo -clp:ErrorsOnly >/dev/null
dotnet build src/GanInference.Cli -v q -nologo -clp:ErrorsOnly >/dev/null
# The check itself: its parsing, and that a broken doc fails with each problem named (against the real server).
selftest=$(/usr/bin/python3 -m unittest tools/docs/test_cli_docs.py 2>&1) || { echo "$selftest" >&2; exit 1; }
echo "cli-docs self-test: $(echo "$selftest" | grep -E '^Ran ')"
# Two doc files at a time: most of a file's time is server and CLI start-ups and fixed bench durations (184 s against
# 244 s one at a time on the 2-core development VM).
/usr/bin/python3 tools/docs/cli-docs.py --jobs 2 "$@"

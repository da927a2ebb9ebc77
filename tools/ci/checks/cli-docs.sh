#!/usr/bin/env bash
# Every `gan` command in README.md, docs/cli.md, docs/text-to-image.md, docs/image-to-image.md and examples/README.md runs as written
# against a real server on the shipped models/, and docs/cli.md's output blocks are what the commands print
# (tools/docs/cli-docs.py; --update regenerates them). Also: examples/ is what tools/examples/make-examples.py writes.
set -euo pipefail
cd "$(dirname "$0")/../../.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
/usr/bin/python3 tools/examples/make-examples.py --check
dotnet build src/GanInference.Server -v q -nologo -clp:ErrorsOnly >/dev/null
dotnet build src/GanInference.Cli -v q -nologo -clp:ErrorsOnly >/dev/null
/usr/bin/python3 tools/docs/cli-docs.py

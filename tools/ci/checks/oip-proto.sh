#!/usr/bin/env bash
# The Open Inference Protocol proto (protos/inference) compiles with the reference compilers an outside client uses:
# Debian's protoc (Python messages) and python3-grpc-tools (gRPC stubs). Installs them, with python3-grpcio, when
# missing: tests/GanInference.Server.Tests/OpenInference/OipPythonClientTests drives the server with that client.
set -euo pipefail
cd "$(dirname "$0")/../../.."

missing=()
command -v protoc >/dev/null 2>&1 || missing+=(protobuf-compiler)
/usr/bin/python3 -c "import grpc" 2>/dev/null || missing+=(python3-grpcio)
/usr/bin/python3 -c "import grpc_tools.protoc" 2>/dev/null || missing+=(python3-grpc-tools)
/usr/bin/python3 -c "import google.protobuf" 2>/dev/null || missing+=(python3-protobuf)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "oip-proto.sh: the OIP client test needs the Debian packages: ${missing[*]} (run as root, or apt-get install them first)" >&2
    exit 2
  fi
  echo "oip-proto.sh: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
protoc -Iprotos --python_out="$out" protos/inference/grpc_service.proto protos/inference/model_config.proto
/usr/bin/python3 -m grpc_tools.protoc -Iprotos --grpc_python_out="$out" protos/inference/grpc_service.proto
PYTHONPATH="$out" /usr/bin/python3 -c "
from inference import grpc_service_pb2 as pb, grpc_service_pb2_grpc as rpc
fields = {f.name: f.number for f in pb.ModelInferRequest.DESCRIPTOR.fields}
assert fields['raw_input_contents'] == 7, fields
assert {f.name: f.number for f in pb.ModelInferResponse.DESCRIPTOR.fields}['raw_output_contents'] == 6
assert pb.DESCRIPTOR.package == 'inference' and 'GRPCInferenceService' in pb.DESCRIPTOR.services_by_name
" || { echo "oip-proto.sh: protos/inference does not match the Open Inference Protocol's names and numbers" >&2; exit 1; }

"""An outside client of the Open Inference Protocol: gRPC through stubs that Debian's protoc and python3-grpc-tools
generated from protos/inference (nothing of GanInference's C#), REST through urllib. Prints one JSON object of what
it saw; OipPythonClientTests compares it with gan.v1.

usage: oip_client.py GENERATED_DIR GRPC_TARGET HTTP_URL
"""
import hashlib
import json
import struct
import sys
import urllib.error
import urllib.request

sys.path.insert(0, sys.argv[1])
import grpc  # noqa: E402
from inference import grpc_service_pb2 as pb  # noqa: E402
from inference import grpc_service_pb2_grpc as rpc  # noqa: E402

grpc_target, http_url = sys.argv[2], sys.argv[3]
seeds, labels = [21, 22, 23], [2, 0, 1]
out = {}

with grpc.insecure_channel(grpc_target) as channel:
    stub = rpc.GRPCInferenceServiceStub(channel)
    out["live"] = stub.ServerLive(pb.ServerLiveRequest()).live
    out["ready"] = stub.ServerReady(pb.ServerReadyRequest()).ready
    out["extensions"] = list(stub.ServerMetadata(pb.ServerMetadataRequest()).extensions)
    metadata = stub.ModelMetadata(pb.ModelMetadataRequest(name="o-cond"))
    out["inputs"] = [f"{t.name} {t.datatype} {list(t.shape)}" for t in metadata.inputs]
    out["max_batch_size"] = stub.ModelConfig(pb.ModelConfigRequest(name="o-cond")).config.max_batch_size
    out["index"] = sorted(m.name for m in stub.RepositoryIndex(pb.RepositoryIndexRequest()).models)

    request = pb.ModelInferRequest(model_name="o-cond", id="py")
    request.inputs.add(name="seed", datatype="UINT64", shape=[len(seeds)])
    request.inputs.add(name="label", datatype="INT32", shape=[len(labels)])
    request.raw_input_contents.append(struct.pack(f"<{len(seeds)}Q", *seeds))
    request.raw_input_contents.append(struct.pack(f"<{len(labels)}i", *labels))
    request.outputs.add(name="image")
    response = stub.ModelInfer(request)
    out["grpc_id"] = response.id
    out["grpc_shape"] = list(response.outputs[0].shape)
    out["grpc_image_sha256"] = hashlib.sha256(response.raw_output_contents[0]).hexdigest()

    try:
        stub.ModelInfer(pb.ModelInferRequest(model_name="nope"))
        out["grpc_unknown_model"] = "OK"
    except grpc.RpcError as error:
        out["grpc_unknown_model"] = error.code().name

    stats = stub.ModelStatistics(pb.ModelStatisticsRequest(name="o-cond")).model_stats[0]
    out["stats_success"] = stats.inference_stats.success.count


def post(path, body, headers):
    req = urllib.request.Request(http_url + path, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req) as answer:
            return answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


with urllib.request.urlopen(http_url + "/v2/health/ready") as answer:
    out["rest_ready"] = answer.status

body = {
    "inputs": [
        {"name": "seed", "shape": [len(seeds)], "datatype": "UINT64", "data": seeds},
        {"name": "label", "shape": [len(labels)], "datatype": "INT32", "data": labels},
    ],
    "outputs": [{"name": "image"}],
}
status, _, data = post("/v2/models/o-cond/infer", json.dumps(body).encode(), {"Content-Type": "application/json"})
answer = json.loads(data)
out["rest_json_status"] = status
out["rest_json_image_sha256"] = hashlib.sha256(bytes(answer["outputs"][0]["data"])).hexdigest()

header = json.dumps({
    "inputs": [
        {"name": "seed", "shape": [len(seeds)], "datatype": "UINT64", "parameters": {"binary_data_size": 8 * len(seeds)}},
        {"name": "label", "shape": [len(labels)], "datatype": "INT32", "parameters": {"binary_data_size": 4 * len(labels)}},
    ],
    "outputs": [{"name": "image", "parameters": {"binary_data": True}}],
}).encode()
binary = struct.pack(f"<{len(seeds)}Q", *seeds) + struct.pack(f"<{len(labels)}i", *labels)
status, headers, data = post("/v2/models/o-cond/infer", header + binary,
                             {"Content-Type": "application/octet-stream", "Inference-Header-Content-Length": str(len(header))})
json_length = int(headers["Inference-Header-Content-Length"])
size = json.loads(data[:json_length])["outputs"][0]["parameters"]["binary_data_size"]
out["rest_binary_status"] = status
out["rest_binary_image_sha256"] = hashlib.sha256(data[json_length:json_length + size]).hexdigest()

status, _, data = post("/v2/models/o-cond/infer", b"{not json", {"Content-Type": "application/json"})
out["rest_malformed"] = [status, "error" in json.loads(data)]

print(json.dumps(out))

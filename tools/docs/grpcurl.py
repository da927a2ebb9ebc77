#!/usr/bin/env python3
"""A stand-in for grpcurl (https://github.com/fullstorydev/grpcurl), for the docs check only.

grpcurl is what the docs recommend for calling the server by hand, but no registry that CI reaches (Debian, npm,
NuGet) packages it. tools/docs/cli-docs.py puts this script on PATH as `grpcurl`, so the grpcurl commands of the docs
run as written. It does what grpcurl does for them, over the same server reflection grpcurl uses (no local .proto
files): it asks the server's reflection service (grpc.reflection.v1alpha) for the service's descriptors, parses the
-d JSON into the request message with the protobuf JSON mapping (unknown fields refused, as grpcurl does), calls
the method and prints each response as JSON. Exit 0 on OK; on a gRPC error it prints the code and message, like
grpcurl, and exits 64 + the status code (grpcurl's convention).

Supported: grpcurl -plaintext [-d JSON] [-max-time S] HOST:PORT list [SERVICE]
           grpcurl -plaintext [-d JSON] [-max-time S] HOST:PORT SERVICE/METHOD     (unary and server-streaming)
Anything else (TLS, -proto, headers, client streams) exits 2 with the flag named. Needs Debian's python3-grpcio,
python3-grpc-tools and python3-protobuf (tools/ci/checks/cli-docs.sh installs them).
"""
import os, subprocess, sys, tempfile

REFLECTION_PROTO = """
syntax = "proto3";
package grpc.reflection.v1alpha;
service ServerReflection {
  rpc ServerReflectionInfo(stream ServerReflectionRequest) returns (stream ServerReflectionResponse);
}
message ServerReflectionRequest {
  string host = 1;
  oneof message_request {
    string file_by_filename = 3;
    string file_containing_symbol = 4;
    string list_services = 7;
  }
}
message ServerReflectionResponse {
  string valid_host = 1;
  ServerReflectionRequest original_request = 2;
  oneof message_response {
    FileDescriptorResponse file_descriptor_response = 4;
    ListServiceResponse list_services_response = 6;
    ErrorResponse error_response = 7;
  }
}
message FileDescriptorResponse { repeated bytes file_descriptor_proto = 1; }
message ListServiceResponse { repeated ServiceResponse service = 1; }
message ServiceResponse { string name = 1; }
message ErrorResponse { int32 error_code = 1; string error_message = 2; }
"""


def usage(message):
    print(f"grpcurl (docs stand-in, tools/docs/grpcurl.py): {message}", file=sys.stderr)
    sys.exit(2)


def reflection_module(folder):
    with open(os.path.join(folder, "reflection.proto"), "w") as f:
        f.write(REFLECTION_PROTO)
    from grpc_tools import protoc
    if protoc.main(["protoc", f"-I{folder}", f"--python_out={folder}", os.path.join(folder, "reflection.proto")]) != 0:
        usage("protoc could not compile the reflection proto")
    sys.path.insert(0, folder)
    import reflection_pb2
    return reflection_pb2


def main(argv):
    import grpc
    from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory

    data, plaintext, timeout, rest = None, False, None, []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "-plaintext":
            plaintext = True
        elif a == "-d":
            i += 1
            data = argv[i]
        elif a == "-max-time":
            i += 1
            timeout = float(argv[i])
        elif a.startswith("-"):
            usage(f"flag {a} is not supported by the stand-in")
        else:
            rest.append(a)
        i += 1
    if not plaintext:
        usage("only -plaintext (h2c) is supported: the server's gRPC port speaks cleartext HTTP/2")
    if len(rest) < 2:
        usage("expected HOST:PORT and then `list [SERVICE]` or SERVICE/METHOD")
    address, verb = rest[0], rest[1:]

    channel = grpc.insecure_channel(address)
    with tempfile.TemporaryDirectory() as folder:
        pb = reflection_module(folder)
    reflect = channel.stream_stream("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
                                    request_serializer=lambda m: m.SerializeToString(),
                                    response_deserializer=pb.ServerReflectionResponse.FromString)

    def ask(**request):
        [answer] = list(reflect(iter([pb.ServerReflectionRequest(**request)]), timeout=timeout or 30))
        if answer.HasField("error_response"):
            print(f"Failed to resolve {request}: {answer.error_response.error_message}", file=sys.stderr)
            sys.exit(1)
        return answer

    pool, added = descriptor_pool.DescriptorPool(), set()

    def add_files(blobs):
        pending = {}
        for blob in blobs:
            proto = descriptor_pb2.FileDescriptorProto.FromString(blob)
            pending.setdefault(proto.name, proto)
        while pending:
            progressed = False
            for name, proto in list(pending.items()):
                if name in added:
                    del pending[name]
                    continue
                missing = [d for d in proto.dependency if d not in added and d not in pending]
                for d in missing:
                    for more in ask(file_by_filename=d).file_descriptor_response.file_descriptor_proto:
                        p = descriptor_pb2.FileDescriptorProto.FromString(more)
                        pending.setdefault(p.name, p)
                if all(d in added for d in proto.dependency):
                    pool.Add(proto)
                    added.add(name)
                    del pending[name]
                    progressed = True
            if not progressed and pending and all(all(d in added or d in pending for d in p.dependency) for p in pending.values()):
                usage(f"circular imports among {sorted(pending)}")

    def service(name):
        try:
            return pool.FindServiceByName(name)
        except KeyError:
            add_files(ask(file_containing_symbol=name).file_descriptor_response.file_descriptor_proto)
            return pool.FindServiceByName(name)

    if verb[0] == "list":
        if len(verb) == 1:
            for s in sorted(s.name for s in ask(list_services="").list_services_response.service):
                print(s)
        else:
            for m in service(verb[1]).methods:
                print(f"{verb[1]}.{m.name}")
        return 0

    if "/" not in verb[0]:
        usage(f"expected SERVICE/METHOD, not {verb[0]}")
    service_name, method_name = verb[0].rsplit("/", 1)
    method = service(service_name).FindMethodByName(method_name)
    if method is None:
        usage(f"service {service_name} has no method {method_name}")
    if method.client_streaming:
        usage("client-streaming methods are not supported by the stand-in")

    def message_class(descriptor):
        if hasattr(message_factory, "GetMessageClass"):
            return message_factory.GetMessageClass(descriptor)
        return message_factory.MessageFactory(pool).GetPrototype(descriptor)

    try:
        request = json_format.Parse(data or "{}", message_class(method.input_type)(), descriptor_pool=pool)
    except json_format.ParseError as error:
        print(f"Error invoking method \"{verb[0]}\": error getting request data: {error}", file=sys.stderr)
        return 1
    response_class = message_class(method.output_type)
    kind = channel.unary_stream if method.server_streaming else channel.unary_unary
    call = kind(f"/{service_name}/{method_name}", request_serializer=lambda m: m.SerializeToString(),
                response_deserializer=response_class.FromString)
    try:
        answers = call(request, timeout=timeout)
        for answer in ([answers] if not method.server_streaming else answers):
            print(json_format.MessageToJson(answer, indent=2, descriptor_pool=pool))
    except grpc.RpcError as error:
        print(f"ERROR:\n  Code: {error.code().name.title().replace('_', '')}\n  Message: {error.details()}", file=sys.stderr)
        return 64 + error.code().value[0]
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using GanInference.Api.Inference;
using GanInference.Api.V1;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;

namespace GanInference.Cli.Bench;

/// <summary>
/// What the Open Inference Protocol targets share: the output tensor a <c>--format</c> maps to, and the inputs
/// (seed UINT64 <c>[count]</c>, label INT32 <c>[count]</c> for class-conditional models) in little-endian raw form.
/// </summary>
internal static class OipBench
{
    /// <summary>The OIP output named by a gan.v1 format (docs/open-inference-protocol.md); JPEG has none.</summary>
    public static string OutputFor(ImageFormat format, string protocol) => format switch
    {
        ImageFormat.RawU8 => "image",
        ImageFormat.RawF32 => "image_f32",
        ImageFormat.Png => "png",
        _ => throw new CliException(
            $"--format {ValueParsers.FormatName(format)}: --protocol {protocol} has no such output (the Open Inference Protocol answers "
            + "raw-u8 as 'image', raw-f32 as 'image_f32' and png as 'png'); give --format raw-u8, raw-f32 or png, or --protocol gan."),
    };

    public static byte[] RawSeeds(ulong first, int count)
    {
        var bytes = new byte[8 * count];
        for (var i = 0; i < count; i++)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(8 * i), unchecked(first + (ulong)i));
        }

        return bytes;
    }

    public static byte[] RawLabels(ulong first, int count, int classes)
    {
        var bytes = new byte[4 * count];
        for (var i = 0; i < count; i++)
        {
            BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(4 * i), (int)(unchecked(first + (ulong)i) % (ulong)classes));
        }

        return bytes;
    }

    /// <summary>The gRPC code a REST status stands for (the inverse of the server's mapping, docs/open-inference-protocol.md).</summary>
    public static StatusCode StatusOf(HttpStatusCode status) => status switch
    {
        HttpStatusCode.OK => StatusCode.OK,
        HttpStatusCode.BadRequest => StatusCode.InvalidArgument,
        HttpStatusCode.Unauthorized => StatusCode.Unauthenticated,
        HttpStatusCode.Forbidden => StatusCode.PermissionDenied,
        HttpStatusCode.NotFound => StatusCode.NotFound,
        HttpStatusCode.RequestEntityTooLarge or HttpStatusCode.TooManyRequests => StatusCode.ResourceExhausted,
        HttpStatusCode.ServiceUnavailable => StatusCode.Unavailable,
        HttpStatusCode.GatewayTimeout => StatusCode.DeadlineExceeded,
        HttpStatusCode.NotImplemented => StatusCode.Unimplemented,
        HttpStatusCode.InternalServerError => StatusCode.Internal,
        _ => StatusCode.Unknown,
    };
}

/// <summary>OIP over gRPC: <c>inference.GRPCInferenceService/ModelInfer</c> with raw inputs, one output asked for.</summary>
internal sealed class OipGrpcBenchTarget : BenchTarget
{
    private readonly IReadOnlyList<GrpcChannel> _channels;
    private readonly GRPCInferenceService.GRPCInferenceServiceClient[] _stubs;
    private readonly string _output;

    public OipGrpcBenchTarget(IReadOnlyList<GrpcChannel> channels, Uri address, ModelInfo model, int count, ImageFormat format, TimeSpan deadline, ulong firstSeed)
        : base(model, count, deadline, firstSeed)
    {
        _output = OipBench.OutputFor(format, "oip");
        _channels = channels;
        _stubs = channels.Select(c => new GRPCInferenceService.GRPCInferenceServiceClient(c)).ToArray();
        Address = address;
    }

    public override string Rpc => "inference.GRPCInferenceService/ModelInfer";

    public override string Protocol => "oip";

    public override Uri Address { get; }

    public override async Task<int> SendAsync(CancellationToken cancellationToken)
    {
        var seed = NextSeed();
        var request = new ModelInferRequest { ModelName = Model.Name };
        request.Inputs.Add(new ModelInferRequest.Types.InferInputTensor { Name = "seed", Datatype = "UINT64", Shape = { Count } });
        request.RawInputContents.Add(UnsafeByteOperations.UnsafeWrap(OipBench.RawSeeds(seed, Count)));
        if (Classes > 0)
        {
            request.Inputs.Add(new ModelInferRequest.Types.InferInputTensor { Name = "label", Datatype = "INT32", Shape = { Count } });
            request.RawInputContents.Add(UnsafeByteOperations.UnsafeWrap(OipBench.RawLabels(seed, Count, Classes)));
        }

        request.Outputs.Add(new ModelInferRequest.Types.InferRequestedOutputTensor { Name = _output });
        var stub = _stubs[NextClient(_stubs.Length)];
        var response = await stub.ModelInferAsync(request, new CallOptions(deadline: DateTime.UtcNow + Deadline, cancellationToken: cancellationToken)).ConfigureAwait(false);
        for (var i = 0; i < response.Outputs.Count; i++)
        {
            var output = response.Outputs[i];
            if (output.Name == _output && output.Shape.Count > 0 && i < response.RawOutputContents.Count && !response.RawOutputContents[i].IsEmpty)
            {
                return (int)output.Shape[0];
            }
        }

        throw new RpcException(new Status(StatusCode.Internal, $"the reply has no raw output '{_output}'"));
    }

    public override void Dispose()
    {
        foreach (var channel in _channels)
        {
            channel.Dispose();
        }
    }
}

/// <summary>
/// OIP over REST: <c>POST /v2/models/{m}/infer</c> on the HTTP/1.1 listener, the inputs as JSON, the output asked
/// for as binary data (Triton's binary_tensor_data extension, as tritonclient.http does by default), the deadline in
/// <c>Inference-Timeout-Ms</c>, the key as <c>authorization: Bearer</c>. Non-200 answers become the gRPC codes they
/// stand for, with the server's <c>{"error"}</c> message.
/// </summary>
internal sealed class OipRestBenchTarget : BenchTarget
{
    private const string HeaderLength = "Inference-Header-Content-Length";

    private readonly IReadOnlyList<HttpClient> _clients;
    private readonly string _output;
    private readonly Uri _inferUrl;
    private readonly AuthenticationHeaderValue? _authorization;

    public OipRestBenchTarget(IReadOnlyList<HttpClient> clients, Uri httpAddress, string? apiKey, ModelInfo model, int count, ImageFormat format, TimeSpan deadline, ulong firstSeed)
        : base(model, count, deadline, firstSeed)
    {
        _output = OipBench.OutputFor(format, "rest");
        _clients = clients;
        Address = httpAddress;
        _inferUrl = new Uri(httpAddress, $"/v2/models/{Uri.EscapeDataString(model.Name)}/infer");
        _authorization = apiKey is null ? null : new AuthenticationHeaderValue("Bearer", apiKey);
    }

    public override string Rpc => "POST /v2/models/{model}/infer";

    public override string Protocol => "rest";

    public override Uri Address { get; }

    /// <summary>An HTTP/1.1 client for the load: one connection per request in flight, kept open, never retried.</summary>
    public static HttpClient CreateClient() => new(new SocketsHttpHandler
    {
        PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan,
        AutomaticDecompression = DecompressionMethods.None,
        ConnectTimeout = TimeSpan.FromSeconds(10),
    })
    {
        Timeout = Timeout.InfiniteTimeSpan,
    };

    public override async Task<int> SendAsync(CancellationToken cancellationToken)
    {
        var seed = NextSeed();
        using var request = new HttpRequestMessage(HttpMethod.Post, _inferUrl) { Content = new ByteArrayContent(Body(seed)) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        request.Headers.Add("Inference-Timeout-Ms", ((long)Deadline.TotalMilliseconds).ToString(CultureInfo.InvariantCulture));
        request.Headers.Authorization = _authorization;
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(Deadline);
        try
        {
            using var response = await _clients[NextClient(_clients.Count)].SendAsync(request, HttpCompletionOption.ResponseContentRead, deadline.Token).ConfigureAwait(false);
            var body = await response.Content.ReadAsByteArrayAsync(deadline.Token).ConfigureAwait(false);
            if (response.StatusCode != HttpStatusCode.OK)
            {
                throw new RpcException(new Status(OipBench.StatusOf(response.StatusCode), $"HTTP {(int)response.StatusCode}: {ErrorMessage(body)}"));
            }

            return CountImages(response, body);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new RpcException(new Status(StatusCode.DeadlineExceeded, $"no reply within the deadline of {Deadline.TotalSeconds:G4} s (--timeout)"));
        }
        catch (HttpRequestException e)
        {
            throw new RpcException(new Status(StatusCode.Unavailable, $"{_inferUrl.GetLeftPart(UriPartial.Authority)}: {e.Message}"));
        }
    }

    public override void Dispose()
    {
        foreach (var client in _clients)
        {
            client.Dispose();
        }
    }

    private byte[] Body(ulong seed)
    {
        using var buffer = new MemoryStream(64 + 24 * Count);
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteStartArray("inputs");
            WriteInput(json, "seed", "UINT64", i => json.WriteNumberValue(unchecked(seed + (ulong)i)));
            if (Classes > 0)
            {
                WriteInput(json, "label", "INT32", i => json.WriteNumberValue(LabelOf(unchecked(seed + (ulong)i), Classes)));
            }

            json.WriteEndArray();
            json.WriteStartArray("outputs");
            json.WriteStartObject();
            json.WriteString("name", _output);
            json.WriteStartObject("parameters");
            json.WriteBoolean("binary_data", true);
            json.WriteEndObject();
            json.WriteEndObject();
            json.WriteEndArray();
            json.WriteEndObject();
        }

        return buffer.ToArray();
    }

    private void WriteInput(Utf8JsonWriter json, string name, string datatype, Action<int> writeValue)
    {
        json.WriteStartObject();
        json.WriteString("name", name);
        json.WriteStartArray("shape");
        json.WriteNumberValue(Count);
        json.WriteEndArray();
        json.WriteString("datatype", datatype);
        json.WriteStartArray("data");
        for (var i = 0; i < Count; i++)
        {
            writeValue(i);
        }

        json.WriteEndArray();
        json.WriteEndObject();
    }

    /// <summary>The batch size of the asked-for output, once its binary data is all there.</summary>
    private int CountImages(HttpResponseMessage response, byte[] body)
    {
        var headerLength = body.Length;
        if (response.Headers.TryGetValues(HeaderLength, out var values) || response.Content.Headers.TryGetValues(HeaderLength, out values))
        {
            if (!int.TryParse(values.FirstOrDefault(), NumberStyles.None, CultureInfo.InvariantCulture, out headerLength) || headerLength > body.Length)
            {
                throw new RpcException(new Status(StatusCode.Internal, $"the reply's {HeaderLength} '{values.FirstOrDefault()}' does not fit its {body.Length}-byte body"));
            }
        }

        try
        {
            using var document = JsonDocument.Parse(body.AsMemory(0, headerLength));
            long binaryOffset = headerLength;
            foreach (var output in document.RootElement.GetProperty("outputs").EnumerateArray())
            {
                long size = output.TryGetProperty("parameters", out var parameters) && parameters.TryGetProperty("binary_data_size", out var s) ? s.GetInt64() : 0;
                if (output.GetProperty("name").GetString() == _output)
                {
                    if (size == 0 || binaryOffset + size > body.Length)
                    {
                        throw new RpcException(new Status(StatusCode.Internal, $"the reply's output '{_output}' has no binary data in the body ({body.Length} bytes, binary_data_size {size})"));
                    }

                    return output.GetProperty("shape")[0].GetInt32();
                }

                binaryOffset += size;
            }
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException or IndexOutOfRangeException)
        {
            throw new RpcException(new Status(StatusCode.Internal, $"the reply is not an OIP infer answer: {e.Message}"));
        }

        throw new RpcException(new Status(StatusCode.Internal, $"the reply has no output '{_output}'"));
    }

    private static string ErrorMessage(byte[] body)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            if (document.RootElement.ValueKind == JsonValueKind.Object && document.RootElement.TryGetProperty("error", out var error) && error.ValueKind == JsonValueKind.String)
            {
                return error.GetString()!;
            }
        }
        catch (JsonException)
        {
            // Not the server's {"error"} form (a proxy's page, say): report its start as text.
        }

        var text = Encoding.UTF8.GetString(body, 0, Math.Min(body.Length, 200));
        return text.Length == 0 ? "(empty body)" : text;
    }
}

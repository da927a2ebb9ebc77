using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using GanInference.Api.Inference;
using GanInference.Core.Errors;
using Google.Protobuf;

namespace GanInference.Server.OpenInference;

/// <summary>
/// The JSON body of the Open Inference Protocol's REST <c>infer</c> (and Triton's binary-data extension) to and from
/// <see cref="ModelInferRequest"/> / <see cref="ModelInferResponse"/>, so REST runs exactly the gRPC path.
/// JSON <c>data</c> may be flat or nested (row-major). BYTES elements in JSON are strings: UTF-8 text on input; on
/// output base64 (PNG files are not text); binary data carries them raw.
/// </summary>
internal static class OipRestJson
{
    /// <summary>JSON as people read it: apostrophes and non-ASCII letters in messages are not escaped (the body is UTF-8).</summary>
    public static readonly JsonWriterOptions WriterOptions = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>The same for <see cref="System.Text.Json.Nodes.JsonNode"/>.</summary>
    public static readonly JsonSerializerOptions JsonOptions = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>The request parameter that asks for every output as binary data.</summary>
    public const string BinaryDataOutputParameter = "binary_data_output";

    /// <summary>Reads an infer body; returns the request and the outputs to answer as binary data.</summary>
    /// <param name="body">The whole body.</param>
    /// <param name="headerLength">The <c>Inference-Header-Content-Length</c> header (empty: all JSON).</param>
    /// <param name="model">The model of the path.</param>
    /// <param name="version">The version of the path (empty for none).</param>
    public static (ModelInferRequest Request, Func<string, bool> Binary) ReadInferRequest(byte[] body, string headerLength, string model, string version)
    {
        var jsonLength = body.Length;
        if (headerLength.Length > 0)
        {
            if (!int.TryParse(headerLength, NumberStyles.None, CultureInfo.InvariantCulture, out jsonLength) || jsonLength > body.Length)
            {
                throw new InvalidFieldException(OipRestMiddleware.HeaderLengthHeader, $"'{OipInput.Shorten(headerLength)}' is not a length within the body's {body.Length} bytes");
            }
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body.AsMemory(0, jsonLength), new JsonDocumentOptions { MaxDepth = 64 });
        }
        catch (JsonException ex)
        {
            throw new InvalidFieldException("body", $"malformed JSON: {ex.Message}");
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new InvalidFieldException("body", "must be a JSON object with 'inputs'");
            }

            var request = new ModelInferRequest { ModelName = model, ModelVersion = version };
            if (root.TryGetProperty("id", out var id))
            {
                request.Id = id.ValueKind == JsonValueKind.String ? id.GetString()! : throw new InvalidFieldException("id", "must be a string");
            }

            var binaryAll = false;
            if (root.TryGetProperty("parameters", out var parameters))
            {
                foreach (var (name, value) in ReadParameters(parameters, "parameters"))
                {
                    if (name == BinaryDataOutputParameter)
                    {
                        binaryAll = value.BoolParam;
                    }
                    else
                    {
                        request.Parameters[name] = value;
                    }
                }
            }

            var binary = body.AsMemory(jsonLength);
            var raw = new List<ByteString?>();
            if (!root.TryGetProperty("inputs", out var inputs) || inputs.ValueKind != JsonValueKind.Array)
            {
                throw new InvalidFieldException("inputs", "is required: an array of {name, shape, datatype, data}");
            }

            var i = 0;
            foreach (var input in inputs.EnumerateArray())
            {
                var field = $"inputs[{i++}]";
                var tensor = new ModelInferRequest.Types.InferInputTensor
                {
                    Name = RequiredString(input, "name", field),
                    Datatype = RequiredString(input, "datatype", field),
                };
                if (!input.TryGetProperty("shape", out var shape) || shape.ValueKind != JsonValueKind.Array)
                {
                    throw new InvalidFieldException($"{field}.shape", "is required: an array of sizes");
                }

                foreach (var dim in shape.EnumerateArray())
                {
                    tensor.Shape.Add(dim.TryGetInt64(out var d) ? d : throw new InvalidFieldException($"{field}.shape", "holds a value that is not an integer"));
                }

                long? binarySize = null;
                if (input.TryGetProperty("parameters", out var inputParameters))
                {
                    foreach (var (name, value) in ReadParameters(inputParameters, $"{field}.parameters"))
                    {
                        if (name == "binary_data_size")
                        {
                            binarySize = value.ParameterChoiceCase == InferParameter.ParameterChoiceOneofCase.Int64Param && value.Int64Param >= 0
                                ? value.Int64Param
                                : throw new InvalidFieldException($"{field}.parameters.binary_data_size", "must be a non-negative integer");
                        }
                    }
                }

                if (binarySize is { } size)
                {
                    if (size > binary.Length)
                    {
                        throw new InvalidFieldException($"{field}.parameters.binary_data_size", $"{size} bytes runs past the end of the body ({binary.Length} bytes of binary data left)");
                    }

                    raw.Add(ByteString.CopyFrom(binary.Span[..(int)size]));
                    binary = binary[(int)size..];
                }
                else
                {
                    if (!input.TryGetProperty("data", out var data))
                    {
                        throw new InvalidFieldException($"{field}.data", "is required (or parameters.binary_data_size with binary data)");
                    }

                    tensor.Contents = ReadContents(data, tensor.Datatype, $"{field}.data");
                    raw.Add(null);
                }

                request.Inputs.Add(tensor);
            }

            if (!binary.IsEmpty)
            {
                throw new InvalidFieldException("body", $"{binary.Length} bytes of binary data follow the inputs' binary_data_size");
            }

            // gRPC's form takes raw data for all inputs or none: typed inputs beside binary ones are made raw.
            if (raw.Any(r => r is not null))
            {
                for (var j = 0; j < request.Inputs.Count; j++)
                {
                    var tensor = request.Inputs[j];
                    request.RawInputContents.Add(raw[j] ?? ToRaw(tensor.Contents, tensor.Datatype));
                    tensor.Contents = null;
                }
            }

            var binaryOutputs = new HashSet<string>(StringComparer.Ordinal);
            if (root.TryGetProperty("outputs", out var outputs))
            {
                if (outputs.ValueKind != JsonValueKind.Array)
                {
                    throw new InvalidFieldException("outputs", "must be an array of {name, parameters}");
                }

                var k = 0;
                foreach (var output in outputs.EnumerateArray())
                {
                    var field = $"outputs[{k++}]";
                    var name = RequiredString(output, "name", field);
                    request.Outputs.Add(new ModelInferRequest.Types.InferRequestedOutputTensor { Name = name });
                    if (output.TryGetProperty("parameters", out var outputParameters) &&
                        ReadParameters(outputParameters, $"{field}.parameters").Any(p => p.Name == "binary_data" && p.Value.BoolParam))
                    {
                        binaryOutputs.Add(name);
                    }
                }
            }

            return (request, name => binaryAll || binaryOutputs.Contains(name));
        }
    }

    /// <summary>Writes an infer answer: the JSON part, and the binary parts (in output order) for outputs asked as binary data.</summary>
    public static (byte[] Json, List<ByteString> Binary) WriteInferResponse(ModelInferResponse response, Func<string, bool> binary)
    {
        var parts = new List<ByteString>();
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
        {
            writer.WriteStartObject();
            writer.WriteString("model_name", response.ModelName);
            writer.WriteString("model_version", response.ModelVersion);
            if (response.Id.Length > 0)
            {
                writer.WriteString("id", response.Id);
            }

            writer.WriteStartObject("parameters");
            foreach (var (name, value) in response.Parameters)
            {
                writer.WriteString(name, value.StringParam);
            }

            writer.WriteEndObject();
            writer.WriteStartArray("outputs");
            for (var i = 0; i < response.Outputs.Count; i++)
            {
                var output = response.Outputs[i];
                var data = response.RawOutputContents[i];
                writer.WriteStartObject();
                writer.WriteString("name", output.Name);
                writer.WriteString("datatype", output.Datatype);
                writer.WriteStartArray("shape");
                foreach (var dim in output.Shape)
                {
                    writer.WriteNumberValue(dim);
                }

                writer.WriteEndArray();
                if (binary(output.Name))
                {
                    writer.WriteStartObject("parameters");
                    writer.WriteNumber("binary_data_size", data.Length);
                    writer.WriteEndObject();
                    parts.Add(data);
                }
                else
                {
                    writer.WriteStartArray("data");
                    WriteData(writer, data, output.Datatype);
                    writer.WriteEndArray();
                }

                writer.WriteEndObject();
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
        }

        return (buffer.WrittenSpan.ToArray(), parts);
    }

    private static void WriteData(Utf8JsonWriter writer, ByteString data, string datatype)
    {
        switch (datatype)
        {
            case OipDatatype.UInt8:
                foreach (var value in data.Span)
                {
                    writer.WriteNumberValue(value);
                }

                break;
            case OipDatatype.Int32:
                foreach (var value in MemoryMarshal.Cast<byte, int>(data.Span))
                {
                    writer.WriteNumberValue(value);
                }

                break;
            case OipDatatype.UInt64:
                foreach (var value in MemoryMarshal.Cast<byte, ulong>(data.Span))
                {
                    writer.WriteNumberValue(value);
                }

                break;
            case OipDatatype.Fp32:
                foreach (var value in MemoryMarshal.Cast<byte, float>(data.Span))
                {
                    writer.WriteNumberValue(value);
                }

                break;
            default:
                foreach (var element in OipInput.SplitBytes(data.Memory, CountBytes(data), "output"))
                {
                    writer.WriteBase64StringValue(element.Span);
                }

                break;
        }
    }

    private static long CountBytes(ByteString data)
    {
        long count = 0;
        var offset = 0;
        while (offset + 4 <= data.Length)
        {
            offset += 4 + (int)BinaryPrimitives.ReadUInt32LittleEndian(data.Span[offset..]);
            count++;
        }

        return count;
    }

    private static List<(string Name, InferParameter Value)> ReadParameters(JsonElement parameters, string field)
    {
        if (parameters.ValueKind != JsonValueKind.Object)
        {
            throw new InvalidFieldException(field, "must be an object");
        }

        var result = new List<(string, InferParameter)>();
        foreach (var property in parameters.EnumerateObject())
        {
            var value = property.Value;
            result.Add((property.Name, value.ValueKind switch
            {
                JsonValueKind.True or JsonValueKind.False => new InferParameter { BoolParam = value.GetBoolean() },
                JsonValueKind.String => new InferParameter { StringParam = value.GetString()! },
                JsonValueKind.Number when value.TryGetInt64(out var integer) => new InferParameter { Int64Param = integer },
                JsonValueKind.Number => new InferParameter { DoubleParam = value.GetDouble() },
                _ => throw new InvalidFieldException($"{field}.{OipInput.Shorten(property.Name)}", "must be a boolean, number or string"),
            }));
        }

        return result;
    }

    private static string RequiredString(JsonElement element, string name, string field) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String
            ? value.GetString()!
            : throw new InvalidFieldException($"{field}.{name}", "is required: a string");

    /// <summary>JSON data (flat or nested) as the typed contents of <paramref name="datatype"/>.</summary>
    private static InferTensorContents ReadContents(JsonElement data, string datatype, string field)
    {
        var contents = new InferTensorContents();
        var index = 0;
        void Add(JsonElement value)
        {
            if (value.ValueKind == JsonValueKind.Array)
            {
                foreach (var item in value.EnumerateArray())
                {
                    Add(item);
                }

                return;
            }

            var ok = datatype switch
            {
                "BOOL" => value.ValueKind is JsonValueKind.True or JsonValueKind.False && Do(() => contents.BoolContents.Add(value.GetBoolean())),
                "UINT8" or "UINT16" or "UINT32" => value.TryGetUInt32(out var u32) && Do(() => contents.UintContents.Add(u32)),
                "INT8" or "INT16" or "INT32" => value.TryGetInt32(out var i32) && Do(() => contents.IntContents.Add(i32)),
                "UINT64" => value.TryGetUInt64(out var u64) && Do(() => contents.Uint64Contents.Add(u64)),
                "INT64" => value.TryGetInt64(out var i64) && Do(() => contents.Int64Contents.Add(i64)),
                "FP32" => value.ValueKind == JsonValueKind.Number && Do(() => contents.Fp32Contents.Add(value.GetSingle())),
                "FP64" => value.ValueKind == JsonValueKind.Number && Do(() => contents.Fp64Contents.Add(value.GetDouble())),
                "BYTES" => value.ValueKind == JsonValueKind.String && Do(() => contents.BytesContents.Add(ByteString.CopyFromUtf8(value.GetString()!))),
                _ => throw new InvalidFieldException(field, $"datatype '{OipInput.Shorten(datatype)}' is not a tensor data type of the Open Inference Protocol"),
            };
            if (!ok)
            {
                throw new InvalidFieldException($"{field}[{index}]", $"{OipInput.Shorten(value.GetRawText())} is not a {datatype} value");
            }

            index++;
        }

        Add(data);
        return contents;
    }

    private static bool Do(Action action)
    {
        action();
        return true;
    }

    /// <summary>Typed contents in raw little-endian form (BYTES: length-prefixed).</summary>
    private static ByteString ToRaw(InferTensorContents contents, string datatype)
    {
        byte[] bytes = datatype switch
        {
            "BOOL" => contents.BoolContents.Select(b => b ? (byte)1 : (byte)0).ToArray(),
            "UINT8" => contents.UintContents.Select(v => (byte)v).ToArray(),
            "UINT16" => MemoryMarshal.AsBytes(contents.UintContents.Select(v => (ushort)v).ToArray().AsSpan()).ToArray(),
            "UINT32" => MemoryMarshal.AsBytes(contents.UintContents.ToArray().AsSpan()).ToArray(),
            "INT8" => contents.IntContents.Select(v => (byte)(sbyte)v).ToArray(),
            "INT16" => MemoryMarshal.AsBytes(contents.IntContents.Select(v => (short)v).ToArray().AsSpan()).ToArray(),
            "INT32" => MemoryMarshal.AsBytes(contents.IntContents.ToArray().AsSpan()).ToArray(),
            "UINT64" => MemoryMarshal.AsBytes(contents.Uint64Contents.ToArray().AsSpan()).ToArray(),
            "INT64" => MemoryMarshal.AsBytes(contents.Int64Contents.ToArray().AsSpan()).ToArray(),
            "FP32" => MemoryMarshal.AsBytes(contents.Fp32Contents.ToArray().AsSpan()).ToArray(),
            "FP64" => MemoryMarshal.AsBytes(contents.Fp64Contents.ToArray().AsSpan()).ToArray(),
            _ => OipInference.JoinBytes(contents.BytesContents.Select(b => b.ToByteArray()).ToArray()),
        };
        return UnsafeByteOperations.UnsafeWrap(bytes);
    }
}

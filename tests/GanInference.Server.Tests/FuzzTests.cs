using FsCheck;
using FsCheck.Fluent;
using GanInference.Api.V1;
using GanInference.Server.Tests.Infrastructure;
using Google.Protobuf;
using Grpc.Core;

namespace GanInference.Server.Tests;

/// <summary>
/// Property tests over every RPC's fields on the shared real server: random, corrupt and extreme values, empty and
/// huge ones. Whatever the request, the call ends within its deadline with OK or a documented client-error status
/// (never INTERNAL, UNKNOWN or a hang), an OK reply is well formed, and the server keeps serving.
/// </summary>
[Collection(ServerCollection.Name)]
public sealed class FuzzTests(ServerFixture fixture)
{
    private static readonly StatusCode[] Documented =
        [StatusCode.OK, StatusCode.InvalidArgument, StatusCode.NotFound, StatusCode.FailedPrecondition, StatusCode.ResourceExhausted];

    private static readonly string[] ModelNames =
        [ServerFixture.Unconditional, ServerFixture.Conditional, ServerFixture.ImageToImage, ServerFixture.Narrow, "", "nope", "../" + ServerFixture.Unconditional,
         ServerFixture.Unconditional + "/model.onnx", "/etc/passwd", new string('x', 100_000), "tiny-uncond\0", "ТИНИ", "broken"];

    private static readonly float[] ExtremeFloats =
        [0f, -0f, 1f, -1f, 1e-45f, 0.01f, 0.5f, 3f, 1e30f, float.MaxValue, float.MinValue, float.NaN, float.PositiveInfinity, float.NegativeInfinity, float.Epsilon];

    private Api.V1.GanInference.GanInferenceClient Client => fixture.Client;

    [Fact]
    public void Generate_answers_every_request_with_ok_or_a_documented_error()
    {
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(150), Prop.ForAll(Arb.From(Requests()), request => AnswersProperly(request, stream: false)));
        AssertStillServing();
    }

    [Fact]
    public void GenerateStream_answers_every_request_with_ok_or_a_documented_error()
    {
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(100), Prop.ForAll(Arb.From(Requests()), request => AnswersProperly(request, stream: true)));
        AssertStillServing();
    }

    [Fact]
    public void GetModel_answers_any_name_with_ok_not_found_or_invalid_argument()
    {
        var names = Gen.OneOf(Gen.Elements(ModelNames), ArbMap.Default.GeneratorFor<string>().Where(s => s is not null));
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(150), Prop.ForAll(Arb.From(names), name =>
        {
            try
            {
                var info = Client.GetModel(new GetModelRequest { Model = name }, deadline: DateTime.UtcNow.AddSeconds(10));
                return info.Name == name;
            }
            catch (RpcException ex)
            {
                return ex.StatusCode is StatusCode.NotFound or StatusCode.InvalidArgument;
            }
        }));
        Assert.Equal(5, Client.ListModels(new ListModelsRequest()).Models.Count);
    }

    [Fact]
    public void Corrupt_request_bytes_are_refused_with_a_documented_status_and_never_crash_the_server()
    {
        var valid = new GenerateRequest { Model = ServerFixture.Unconditional, Count = 2, Seed = 7, Labels = { 1 }, Latents = { 1f, 2f } }.ToByteArray();
        var mutated =
            from positions in Gen.ArrayOf(Gen.Choose(0, valid.Length - 1))
            from values in Gen.ArrayOf(Gen.Choose(0, 255))
            from cut in Gen.Choose(0, valid.Length)
            select Mutate(valid, positions, values, cut);
        var bytes = Gen.OneOf(mutated, ArbMap.Default.GeneratorFor<byte[]>());
        var method = new Method<byte[], byte[]>(MethodType.Unary, "gan.v1.GanInference", "Generate", RawMarshaller, RawMarshaller);
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(150), Prop.ForAll(Arb.From(bytes), payload =>
        {
            try
            {
                var reply = fixture.Server.Channel.CreateCallInvoker().BlockingUnaryCall(method, null, new CallOptions(deadline: DateTime.UtcNow.AddSeconds(10)), payload);
                return GenerateResponse.Parser.ParseFrom(reply).Images.Count >= 1;
            }
            catch (RpcException ex)
            {
                return Documented.Contains(ex.StatusCode) || Fail($"{ex.StatusCode}: {ex.Status.Detail} for {Convert.ToHexString(payload)}");
            }
        }));
        AssertStillServing();
    }

    private static readonly Marshaller<byte[]> RawMarshaller = Marshallers.Create(bytes => bytes, bytes => bytes);

    private static byte[] Mutate(byte[] valid, int[] positions, int[] values, int cut)
    {
        var copy = valid.ToArray();
        for (var i = 0; i < Math.Min(positions.Length, values.Length); i++)
        {
            copy[positions[i]] = (byte)values[i];
        }

        return copy[..cut];
    }

    private static Gen<GenerateRequest> Requests()
    {
        var counts = Gen.Elements(0u, 1u, 2u, 3u, 7u, 64u, 255u, 256u, 257u, 1_000_000u, uint.MaxValue);
        var seeds = Gen.Elements<ulong?>(null, 0UL, 1UL, 12345UL, long.MaxValue, ulong.MaxValue - 1, ulong.MaxValue);
        var seedLists = Gen.OneOf(
            Gen.Constant(Array.Empty<ulong>()),
            Gen.ArrayOf(Gen.Elements(0UL, 1UL, ulong.MaxValue, 99UL)),
            Gen.Choose(0, 3).Select(n => Enumerable.Repeat(5UL, n).ToArray()));
        var latents = Gen.OneOf(
            Gen.Constant(Array.Empty<float>()),
            Gen.Elements(8, 16, 7, 9, 24, 2056).SelectMany(length => Gen.ArrayOf(Gen.Elements(ExtremeFloats), length)));
        var truncations = Gen.Elements<float?>(null, 0f, -1f, 0.001f, 0.01f, 0.5f, 1f, 2f, 100f, float.MaxValue, float.NaN, float.PositiveInfinity, float.NegativeInfinity);
        var labels = Gen.ArrayOf(Gen.Elements(-1, 0, 1, 2, 3, 10, int.MaxValue, int.MinValue)).Select(l => l.Take(5).ToArray());
        var formats = Gen.Elements(0, 1, 2, 3, 4, -1, int.MaxValue);
        var qualities = Gen.Elements(0u, 1u, 50u, 100u, 101u, uint.MaxValue);
        return
            from model in Gen.Elements(ModelNames)
            from count in counts
            from seed in seeds
            from seedList in seedLists
            from latent in latents
            from truncation in truncations
            from label in labels
            from format in formats
            from quality in qualities
            select Build(model, count, seed, seedList, latent, truncation, label, format, quality);
    }

    private static GenerateRequest Build(string model, uint count, ulong? seed, ulong[] seeds, float[] latents, float? truncation, int[] labels, int format, uint quality)
    {
        var request = new GenerateRequest { Model = model, Count = count, Format = (ImageFormat)format, JpegQuality = quality };
        request.Seeds.AddRange(seeds);
        request.Latents.AddRange(latents);
        request.Labels.AddRange(labels);
        if (seed is { } s)
        {
            request.Seed = s;
        }

        if (truncation is { } t)
        {
            request.Truncation = t;
        }

        return request;
    }

    private bool AnswersProperly(GenerateRequest request, bool stream)
    {
        try
        {
            var images = stream ? ReadStream(request) : Client.Generate(request, deadline: DateTime.UtcNow.AddSeconds(15)).Images.ToList();
            return images.Count >= 1
                && images.Select((image, i) => image.Index == i && !image.Data.IsEmpty && image.Format == request.Format).All(ok => ok)
                || Fail($"malformed reply of {images.Count} images to {request}");
        }
        catch (RpcException ex)
        {
            return Documented.Contains(ex.StatusCode) || Fail($"{ex.StatusCode}: {ex.Status.Detail} for {Describe(request)}");
        }
    }

    private List<GeneratedImage> ReadStream(GenerateRequest request)
    {
        // A stream of a million images is valid; reading its first 300 and hanging up is too.
        using var call = Client.GenerateStream(request, deadline: DateTime.UtcNow.AddSeconds(15));
        var images = new List<GeneratedImage>();
        while (images.Count < 300 && call.ResponseStream.MoveNext(CancellationToken.None).GetAwaiter().GetResult())
        {
            images.Add(call.ResponseStream.Current);
        }

        return images;
    }

    private void AssertStillServing()
    {
        var response = Client.Generate(new GenerateRequest { Model = ServerFixture.Conditional, Count = 3, Seed = 1 });
        Assert.Equal(3, response.Images.Count);
    }

    private static string Describe(GenerateRequest request) =>
        request.Model.Length > 60 ? request.Clone().ToString().Replace(request.Model, $"<{request.Model.Length} chars>", StringComparison.Ordinal) : request.ToString();

    private static bool Fail(string message) => throw new Xunit.Sdk.XunitException(message);
}

using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using GanInference.Api.Inference;
using GanInference.Api.V1;
using GanInference.Server.Tests.Infrastructure;
using GanInference.Tests.TestModels;
using Grpc.Core;
using static GanInference.Server.Tests.OpenInference.OipTensorsForTests;

namespace GanInference.Server.Tests.OpenInference;

/// <summary>The Open Inference Protocol over REST (HTTP/1.1 listener), with plain HTTP and JSON, as an outside client sends it.</summary>
[Collection(OipCollection.Name)]
public sealed class OipRestTests(OipFixture fixture)
{
    private static readonly HttpClient Http = new();

    private string Url(string path) => fixture.Server.HttpAddress + path;

    [Fact]
    public async Task Health_server_and_model_metadata_config_and_stats_answer_as_the_specification_says()
    {
        var server = await GetJson("/v2");
        Assert.Equal("gan-inference", server["name"]!.GetValue<string>());
        Assert.Contains("binary_tensor_data", server["extensions"]!.AsArray().Select(e => e!.GetValue<string>()));

        Assert.Equal(HttpStatusCode.OK, (await Http.GetAsync(Url("/v2/health/live"))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await Http.GetAsync(Url("/v2/health/ready"))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await Http.GetAsync(Url($"/v2/models/{OipFixture.Conditional}/ready"))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await Http.GetAsync(Url($"/v2/models/{OipFixture.Conditional}/versions/1/ready"))).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await Http.GetAsync(Url("/v2/models/nope/ready"))).StatusCode);

        var metadata = await GetJson($"/v2/models/{OipFixture.Conditional}/versions/1");
        Assert.Equal(OipFixture.Conditional, metadata["name"]!.GetValue<string>());
        Assert.Equal(["seed", "latent", "label"], metadata["inputs"]!.AsArray().Select(i => i!["name"]!.GetValue<string>()));
        Assert.Equal([-1L, 8], metadata["inputs"]![1]!["shape"]!.AsArray().Select(d => d!.GetValue<long>()));

        var config = await GetJson($"/v2/models/{OipFixture.Unconditional}/config");
        Assert.True(config["max_batch_size"]!.GetValue<int>() > 0);
        Assert.True(config["dynamic_batching"]!["max_queue_delay_microseconds"]!.GetValue<ulong>() > 0);
        Assert.Equal([8L], config["input"]![1]!["dims"]!.AsArray().Select(d => d!.GetValue<long>()));

        var stats = await GetJson($"/v2/models/{OipFixture.Unconditional}/stats");
        Assert.Equal(OipFixture.Unconditional, stats["model_stats"]![0]!["name"]!.GetValue<string>());
        Assert.True(stats["model_stats"]![0]!["inference_stats"]!["success"]!["count"]!.GetValue<ulong>() >= 0);
        var all = await GetJson("/v2/models/stats");
        Assert.Equal(6, all["model_stats"]!.AsArray().Count);
    }

    [Fact]
    public async Task Infer_with_a_JSON_body_gives_the_pixels_of_gan_v1_RAW_U8()
    {
        var gan = await fixture.Gan.GenerateAsync(new GenerateRequest { Model = OipFixture.Conditional, Seeds = { 3, 4 }, Labels = { 1, 2 }, Format = ImageFormat.RawU8 });
        var body = """
            {"id": "r1", "inputs": [
              {"name": "seed", "shape": [2], "datatype": "UINT64", "data": [3, 4]},
              {"name": "label", "shape": [2, 1], "datatype": "INT32", "data": [[1], [2]]}],
             "outputs": [{"name": "image"}, {"name": "seed"}]}
            """;

        using var response = await Http.PostAsync(Url($"/v2/models/{OipFixture.Conditional}/infer"), new StringContent(body, Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var root = json.RootElement;
        Assert.Equal("r1", root.GetProperty("id").GetString());
        Assert.Equal(gan.ContentHash, root.GetProperty("parameters").GetProperty("content_hash").GetString());
        var image = root.GetProperty("outputs")[0];
        Assert.Equal(("image", "UINT8"), (image.GetProperty("name").GetString(), image.GetProperty("datatype").GetString()));
        Assert.Equal([2L, 8, 8, 3], image.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()));
        Assert.Equal(gan.Images.SelectMany(i => i.Data.ToByteArray()), image.GetProperty("data").EnumerateArray().Select(v => v.GetByte()));
        Assert.Equal([3UL, 4UL], root.GetProperty("outputs")[1].GetProperty("data").EnumerateArray().Select(v => v.GetUInt64()));
    }

    [Fact]
    public async Task Infer_with_binary_data_in_and_out_gives_the_bytes_of_gan_v1_RAW_U8_and_PNG()
    {
        ulong[] seeds = [11, 12, 13];
        var u8 = await fixture.Gan.GenerateAsync(new GenerateRequest { Model = OipFixture.Unconditional, Seeds = { seeds }, Format = ImageFormat.RawU8 });
        var png = await fixture.Gan.GenerateAsync(new GenerateRequest { Model = OipFixture.Unconditional, Seeds = { seeds }, Format = ImageFormat.Png });
        var header = """
            {"inputs": [{"name": "seed", "shape": [3], "datatype": "UINT64", "parameters": {"binary_data_size": 24}}],
             "outputs": [{"name": "image", "parameters": {"binary_data": true}}, {"name": "png", "parameters": {"binary_data": true}}]}
            """u8.ToArray();
        var content = new ByteArrayContent([.. header, .. Raw(seeds).ToByteArray()]);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        content.Headers.Add("Inference-Header-Content-Length", header.Length.ToString(System.Globalization.CultureInfo.InvariantCulture));

        using var response = await Http.PostAsync(Url($"/v2/models/{OipFixture.Unconditional}/infer"), content);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var jsonLength = int.Parse(response.Headers.GetValues("Inference-Header-Content-Length").Single(), System.Globalization.CultureInfo.InvariantCulture);
        var bytes = await response.Content.ReadAsByteArrayAsync();
        using var json = JsonDocument.Parse(bytes.AsMemory(0, jsonLength));
        var outputs = json.RootElement.GetProperty("outputs");
        var imageSize = outputs[0].GetProperty("parameters").GetProperty("binary_data_size").GetInt32();
        var pngSize = outputs[1].GetProperty("parameters").GetProperty("binary_data_size").GetInt32();
        Assert.Equal(bytes.Length, jsonLength + imageSize + pngSize);
        Assert.Equal(u8.Images.SelectMany(i => i.Data.ToByteArray()), bytes.AsSpan(jsonLength, imageSize).ToArray());
        Assert.Equal(png.Images.Select(i => i.Data.ToByteArray()), SplitBytes(Google.Protobuf.ByteString.CopyFrom(bytes.AsSpan(jsonLength + imageSize, pngSize))));
    }

    [Fact]
    public async Task Infer_of_images_and_texts_through_JSON_matches_gan_v1()
    {
        var grey = Translation.TestImages.GreyPixels(8, 8, salt: 5);
        var translated = await fixture.Gan.TranslateAsync(new TranslateRequest
        {
            Model = OipFixture.ImageToImage,
            Format = ImageFormat.RawU8,
            Images = { new InputImage { Data = Google.Protobuf.ByteString.CopyFrom(grey), Encoding = InputEncoding.RawU8, Width = 8, Height = 8, Channels = 1 } },
        });
        var pixels = await PostInfer(OipFixture.ImageToImage, new JsonObject
        {
            ["inputs"] = new JsonArray(new JsonObject { ["name"] = "image", ["shape"] = new JsonArray(1, 8, 8, 1), ["datatype"] = "UINT8", ["data"] = new JsonArray(grey.Select(b => (JsonNode)(int)b).ToArray()) }),
        });
        Assert.Equal(translated.Images[0].Data.ToByteArray(), pixels.GetProperty("outputs")[0].GetProperty("data").EnumerateArray().Select(v => v.GetByte()));

        var text = await fixture.Gan.GenerateFromTextAsync(new GenerateFromTextRequest { Model = OipFixture.Pipeline, Texts = { "a green one" }, Seeds = { 42 }, Format = ImageFormat.RawU8 });
        var fromText = await PostInfer(OipFixture.Pipeline, new JsonObject
        {
            ["inputs"] = new JsonArray(
                new JsonObject { ["name"] = "text", ["shape"] = new JsonArray(1), ["datatype"] = "BYTES", ["data"] = new JsonArray("a green one") },
                new JsonObject { ["name"] = "seed", ["shape"] = new JsonArray(1), ["datatype"] = "UINT64", ["data"] = new JsonArray(42) }),
        });
        Assert.Equal(text.Images[0].Data.ToByteArray(), fromText.GetProperty("outputs")[0].GetProperty("data").EnumerateArray().Select(v => v.GetByte()));
    }

    [Fact]
    public async Task Binary_BYTES_inputs_and_JSON_inputs_beside_binary_ones_are_read_as_gRPC_reads_raw_contents()
    {
        var grey = Translation.TestImages.GreyPixels(8, 8, salt: 9);
        var png = Translation.TestImages.Png(grey, 8, 8, 1);
        var translated = await fixture.Gan.TranslateAsync(new TranslateRequest
        {
            Model = OipFixture.ImageToImage,
            Format = ImageFormat.RawU8,
            Images = { new InputImage { Data = Google.Protobuf.ByteString.CopyFrom(png) } },
        });
        var files = RawBytes(png).ToByteArray();
        var header = Encoding.UTF8.GetBytes("""{"inputs": [{"name": "image", "shape": [1], "datatype": "BYTES", "parameters": {"binary_data_size": SIZE}}]}""".Replace("SIZE", files.Length.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal));
        var fromFiles = await PostBinary(OipFixture.ImageToImage, header, files);
        Assert.Equal(translated.Images[0].Data.ToByteArray(), fromFiles.GetProperty("outputs")[0].GetProperty("data").EnumerateArray().Select(v => v.GetByte()));

        var gan = await fixture.Gan.GenerateAsync(new GenerateRequest { Model = OipFixture.Conditional, Seeds = { 8, 9 }, Labels = { 2, 1 }, Format = ImageFormat.RawU8 });
        header = """
            {"inputs": [{"name": "seed", "shape": [2], "datatype": "UINT64", "parameters": {"binary_data_size": 16}},
                        {"name": "label", "shape": [2], "datatype": "INT32", "data": [2, 1]}]}
            """u8.ToArray();
        var mixed = await PostBinary(OipFixture.Conditional, header, Raw(8UL, 9UL).ToByteArray());
        Assert.Equal(gan.Images.SelectMany(i => i.Data.ToByteArray()), mixed.GetProperty("outputs")[0].GetProperty("data").EnumerateArray().Select(v => v.GetByte()));
    }

    [Theory]
    [InlineData("/v2/models/nope/infer", """{"inputs": []}""", 404, "model 'nope' is not loaded")]
    [InlineData("/v2/models/o-uncond/versions/3/infer", """{"inputs": []}""", 404, "has no version '3'")]
    [InlineData("/v2/models/o-uncond/infer", """{"inputs": [ {"name": "seed", """, 400, "body: malformed JSON")]
    [InlineData("/v2/models/o-uncond/infer", """{"inputs": [{"name": "noise", "shape": [1], "datatype": "UINT64", "data": [1]}]}""", 400, "input 'noise': is not an input of model 'o-uncond'")]
    [InlineData("/v2/models/o-uncond/infer", """{"inputs": [{"name": "seed", "shape": [1], "datatype": "UINT64", "data": [-1]}]}""", 400, "inputs[0].data[0]: -1 is not a UINT64 value")]
    [InlineData("/v2/models/o-uncond/infer", """{"inputs": [{"name": "seed", "shape": [2], "datatype": "UINT64", "data": [1]}]}""", 400, "has 1 values in 'contents'; shape [2] needs 2")]
    [InlineData("/v2/models/o-uncond/infer", """{"inputs": [{"name": "seed", "shape": [1], "datatype": "UINT64", "data": [1]}], "outputs": [{"name": "label"}]}""", 400, "output 'label': is not an output")]
    [InlineData("/v2/models/o-uncond/flip", "{}", 404, "no such endpoint")]
    public async Task Bad_requests_get_the_documented_status_and_a_JSON_error(string path, string body, int status, string message)
    {
        using var response = await Http.PostAsync(Url(path), new StringContent(body, Encoding.UTF8, "application/json"));

        Assert.Equal(status, (int)response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Contains(message, json.RootElement.GetProperty("error").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_binary_data_size_past_the_end_of_the_body_is_400()
    {
        var header = """{"inputs": [{"name": "seed", "shape": [2], "datatype": "UINT64", "parameters": {"binary_data_size": 16}}]}"""u8.ToArray();
        var content = new ByteArrayContent([.. header, .. Raw(1UL).ToByteArray()]);
        content.Headers.Add("Inference-Header-Content-Length", header.Length.ToString(System.Globalization.CultureInfo.InvariantCulture));

        using var response = await Http.PostAsync(Url($"/v2/models/{OipFixture.Unconditional}/infer"), content);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("binary_data_size: 16 bytes runs past the end of the body (8 bytes of binary data left)", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_body_over_the_limit_is_413_naming_the_limit_with_or_without_a_length()
    {
        var big = new string(' ', OipFixture.MaxReceiveMessageBytes + 10);
        using var declared = await Http.PostAsync(Url($"/v2/models/{OipFixture.Unconditional}/infer"), new StringContent(big));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, declared.StatusCode);
        Assert.Contains("(Limits:MaxReceiveMessageBytes)", await declared.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        var chunked = new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes(big)));
        using var request = new HttpRequestMessage(HttpMethod.Post, Url($"/v2/models/{OipFixture.Unconditional}/infer")) { Content = chunked };
        request.Headers.TransferEncodingChunked = true;
        using var streamed = await Http.SendAsync(request);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, streamed.StatusCode);
        Assert.Contains("(Limits:MaxReceiveMessageBytes)", await streamed.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_REST_call_past_its_timeout_is_504()
    {
        using var response = await Http.PostAsync(
            Url($"/v2/models/{OipFixture.Unconditional}/infer?timeout_ms=0"),
            new StringContent("""{"inputs": [{"name": "seed", "shape": [1], "datatype": "UINT64", "data": [1]}]}""", Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.GatewayTimeout, response.StatusCode);
        Assert.Contains("deadline", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_REST_surface_is_only_on_the_HTTP_listener()
    {
        using var handler = new SocketsHttpHandler();
        using var h2c = new HttpClient(handler);
        using var request = new HttpRequestMessage(HttpMethod.Get, fixture.Server.Address + "/v2/health/live") { Version = HttpVersion.Version20, VersionPolicy = HttpVersionPolicy.RequestVersionExact };

        using var response = await h2c.SendAsync(request);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task Both_surfaces_take_the_same_API_keys()
    {
        var models = new TinyGanModels();
        models.AddUnconditional("u");
        await using var server = await RunningServer.StartAsync(models, "--Security:ApiKeys:0=oip-key");
        var body = """{"inputs": [{"name": "seed", "shape": [1], "datatype": "UINT64", "data": [1]}]}""";

        Assert.Equal(HttpStatusCode.OK, (await Http.GetAsync(server.HttpAddress + "/v2/health/ready")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await Http.GetAsync(server.HttpAddress + "/v2/models/u")).StatusCode);
        using var keyless = await Http.PostAsync(server.HttpAddress + "/v2/models/u/infer", new StringContent(body));
        Assert.Equal(HttpStatusCode.Unauthorized, keyless.StatusCode);
        Assert.Contains("\"error\"", await keyless.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        using var keyed = new HttpRequestMessage(HttpMethod.Post, server.HttpAddress + "/v2/models/u/infer") { Content = new StringContent(body) };
        keyed.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "oip-key");
        Assert.Equal(HttpStatusCode.OK, (await Http.SendAsync(keyed)).StatusCode);

        var oip = new GRPCInferenceService.GRPCInferenceServiceClient(server.Channel);
        Assert.True((await oip.ServerReadyAsync(new ServerReadyRequest())).Ready);
        var request = new ModelInferRequest { ModelName = "u", Inputs = { Input("seed", "UINT64", 1) }, RawInputContents = { Raw(1UL) } };
        var error = await Assert.ThrowsAsync<RpcException>(async () => await oip.ModelInferAsync(request));
        Assert.Equal(StatusCode.Unauthenticated, error.StatusCode);
        var answer = await oip.ModelInferAsync(request, new Metadata { { "authorization", "Bearer oip-key" } });
        Assert.Single(answer.RawOutputContents.Take(1));
    }

    private async Task<JsonElement> PostBinary(string model, byte[] header, byte[] binary)
    {
        var content = new ByteArrayContent([.. header, .. binary]);
        content.Headers.Add("Inference-Header-Content-Length", header.Length.ToString(System.Globalization.CultureInfo.InvariantCulture));
        using var response = await Http.PostAsync(Url($"/v2/models/{model}/infer"), content);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, text);
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    private async Task<JsonNode> GetJson(string path)
    {
        using var response = await Http.GetAsync(Url(path));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
    }

    private async Task<JsonElement> PostInfer(string model, JsonObject body)
    {
        using var response = await Http.PostAsync(Url($"/v2/models/{model}/infer"), new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, text);
        return JsonDocument.Parse(text).RootElement.Clone();
    }
}

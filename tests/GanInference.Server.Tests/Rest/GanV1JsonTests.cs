using System.Net;
using System.Text;
using System.Text.Json;
using GanInference.Api.V1;
using GanInference.Server.Tests.OpenInference;

namespace GanInference.Server.Tests.Rest;

/// <summary>gan.v1 as JSON over HTTP/1.1 (gRPC JSON transcoding of gan.proto's google.api.http rules), with plain HTTP.</summary>
[Collection(OipCollection.Name)]
public sealed class GanV1JsonTests(OipFixture fixture)
{
    private static readonly HttpClient Http = new();

    private string Url(string path) => fixture.Server.HttpAddress + path;

    [Fact]
    public async Task ListModels_and_GetModel_answer_JSON()
    {
        using var list = JsonDocument.Parse(await Http.GetStringAsync(Url("/v1/models")));
        Assert.Contains(OipFixture.Conditional, list.RootElement.GetProperty("models").EnumerateArray().Select(m => m.GetProperty("name").GetString()));

        using var model = JsonDocument.Parse(await Http.GetStringAsync(Url($"/v1/models/{OipFixture.Conditional}")));
        Assert.Equal("CLASS_CONDITIONAL", model.RootElement.GetProperty("kind").GetString());
    }

    [Fact]
    public async Task Generate_as_JSON_gives_the_bytes_of_gRPC_with_64_bit_seeds_as_strings()
    {
        var grpc = await fixture.Gan.GenerateAsync(new GenerateRequest { Model = OipFixture.Conditional, Seeds = { 3, 18446744073709551615 }, Labels = { 1, 2 }, Format = ImageFormat.RawU8 });

        using var response = await Http.PostAsync(
            Url($"/v1/models/{OipFixture.Conditional}:generate"),
            new StringContent("""{"seeds": ["3", "18446744073709551615"], "labels": [1, 2], "format": "RAW_U8"}""", Encoding.UTF8, "application/json"));

        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, text);
        using var json = JsonDocument.Parse(text);
        var images = json.RootElement.GetProperty("images").EnumerateArray().ToArray();
        Assert.Equal(grpc.Images.Select(i => i.Data.ToBase64()), images.Select(i => i.GetProperty("data").GetString()));
        Assert.Equal("18446744073709551615", images[1].GetProperty("seed").GetString());
    }

    [Fact]
    public async Task GenerateFromText_and_Translate_as_JSON_give_the_bytes_of_gRPC()
    {
        var text = await fixture.Gan.GenerateFromTextAsync(new GenerateFromTextRequest { Model = OipFixture.Pipeline, Texts = { "a red one" }, Seeds = { 4 }, Format = ImageFormat.RawU8 });
        var fromText = await PostJson($"/v1/models/{OipFixture.Pipeline}:generateFromText", """{"texts": ["a red one"], "seeds": ["4"], "format": "RAW_U8"}""");
        Assert.Equal(text.Images[0].Data.ToBase64(), fromText.GetProperty("images")[0].GetProperty("data").GetString());

        var grey = Translation.TestImages.GreyPixels(8, 8, salt: 2);
        var png = Translation.TestImages.Png(grey, 8, 8, 1);
        var translated = await fixture.Gan.TranslateAsync(new TranslateRequest { Model = OipFixture.ImageToImage, Format = ImageFormat.RawU8, Images = { new InputImage { Data = Google.Protobuf.ByteString.CopyFrom(png) } } });
        var fromJson = await PostJson($"/v1/models/{OipFixture.ImageToImage}:translate", $$"""{"format": "RAW_U8", "images": [{"data": "{{Convert.ToBase64String(png)}}"}]}""");
        Assert.Equal(translated.Images[0].Data.ToBase64(), fromJson.GetProperty("images")[0].GetProperty("data").GetString());
    }

    [Fact]
    public async Task Malformed_JSON_is_400()
    {
        using var response = await Http.PostAsync(Url($"/v1/models/{OipFixture.Unconditional}:generate"), new StringContent("{\"seeds\": [", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }

    [Fact]
    public async Task GenerateStream_as_JSON_answers_one_JSON_object_per_image()
    {
        using var response = await Http.PostAsync(
            Url($"/v1/models/{OipFixture.Unconditional}:generateStream"),
            new StringContent("""{"seed": "5", "count": 3, "format": "RAW_U8"}""", Encoding.UTF8, "application/json"));

        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, text);
        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Equal(["5", "6", "7"], lines.Select(l => JsonDocument.Parse(l).RootElement.GetProperty("seed").GetString()));
    }

    [Fact]
    public async Task Errors_carry_the_gRPC_status_and_message_with_the_HTTP_status()
    {
        using var response = await Http.PostAsync(Url("/v1/models/nope:generate"), new StringContent("{}", Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Contains("model 'nope' is not loaded", json.RootElement.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_JSON_body_over_the_limit_is_413_and_v1_is_not_served_on_the_gRPC_port()
    {
        var big = "{\"latents\": [" + string.Join(",", Enumerable.Repeat("0.5", OipFixture.MaxReceiveMessageBytes / 4)) + "]}";
        using var tooLarge = await Http.PostAsync(Url($"/v1/models/{OipFixture.Unconditional}:generate"), new StringContent(big, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, tooLarge.StatusCode);
        Assert.Contains("Limits:MaxReceiveMessageBytes", await tooLarge.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        using var handler = new SocketsHttpHandler();
        using var h2c = new HttpClient(handler);
        using var request = new HttpRequestMessage(HttpMethod.Get, fixture.Server.Address + "/v1/models") { Version = HttpVersion.Version20, VersionPolicy = HttpVersionPolicy.RequestVersionExact };
        using var response = await h2c.SendAsync(request);
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    private async Task<JsonElement> PostJson(string path, string body)
    {
        using var response = await Http.PostAsync(Url(path), new StringContent(body, Encoding.UTF8, "application/json"));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, text);
        return JsonDocument.Parse(text).RootElement.Clone();
    }
}

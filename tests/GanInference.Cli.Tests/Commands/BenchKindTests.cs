using System.Text.Json;
using GanInference.Onnx.Benchmarks;
using GanInference.Tests.TestModels;
using SkiaSharp;

namespace GanInference.Cli.Tests.Commands;

/// <summary>
/// `gan bench --kind text|translate` (and the kind inferred from the model) against a real server, and their
/// in-process ceilings: a tiny text-conditional model, a small U-Net (the benchmark architecture) and a seeds model.
/// </summary>
public sealed class BenchKindTests : IAsyncLifetime
{
    private const string Text = "bench-text";
    private const string UNet = "bench-unet";
    private const int UNetSize = 16;

    private readonly TempFolder _root = new();
    private InProcessGanServer? _server;
    private string _address = string.Empty;

    private string Models => _root.Combine("models");

    private string Images => _root.Combine("images");

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(Models);
        TinyTextModels.AddStage1(Models, Text);
        BenchmarkModels.UNet(UNet, UNetSize, width: 4, depth: 2).WriteTo(Models);
        TinyModels.WriteRepository(Models);

        // Inputs of other sizes and formats than the model's: the server (and the in-process ceiling) resizes them.
        Directory.CreateDirectory(Images);
        await File.WriteAllBytesAsync(Path.Combine(Images, "a.png"), Encode(24, 24, SKEncodedImageFormat.Png));
        await File.WriteAllBytesAsync(Path.Combine(Images, "b.jpg"), Encode(40, 32, SKEncodedImageFormat.Jpeg));
        await File.WriteAllBytesAsync(Path.Combine(Images, "c.png"), Encode(UNetSize, UNetSize, SKEncodedImageFormat.Png));
        await File.WriteAllTextAsync(Path.Combine(Images, "notes.txt"), "not an image: left out");

        _server = await InProcessGanServer.StartAsync(Models, models: 4); // the text model, the U-Net and the two tiny ones
        _address = _server.Address;
    }

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }

        _root.Dispose();
    }

    [Theory]
    [InlineData(Text, "text", "gan.v1.GanInference/GenerateFromText", new string[0])]
    [InlineData(Text, "text", "gan.v1.GanInference/GenerateFromText", new[] { "--texts", "a red digit", "--texts", "thin blue seven on black" })]
    [InlineData(UNet, "translate", "gan.v1.GanInference/Translate", new[] { "--images", "IMAGES" })]
    [InlineData(TinyModels.Unconditional, "seeds", "gan.v1.GanInference/Generate", new string[0])]
    public async Task Each_kind_is_inferred_from_the_model_and_drives_its_rpc(string model, string kind, string rpc, string[] extra)
    {
        var json = _root.Combine($"{model}-{extra.Length}.json");

        var result = await CliRun.InvokeAsync(
            ["bench", "--server", _address, "--model", model, "--count", "2", "--concurrency", "2", "--format", "png", "--warmup", "0s", "--duration", "1s",
             "--metrics-url", "http://127.0.0.1:9/metrics", "--json", json, .. extra.Select(e => e == "IMAGES" ? Images : e)]);

        Assert.True(result.ExitCode == 0, result.ToString());
        using var report = JsonDocument.Parse(await File.ReadAllTextAsync(json));
        var root = report.RootElement;
        Assert.Equal(kind, root.GetProperty("kind").GetString());
        Assert.Equal(rpc, root.GetProperty("rpc").GetString());
        var succeeded = root.GetProperty("succeeded").GetInt64();
        Assert.True(root.GetProperty("failed").GetInt64() == 0, root.GetProperty("errors").ToString());
        Assert.True(succeeded > 0, result.ToString());
        Assert.Equal(2 * succeeded, root.GetProperty("images").GetInt64());
    }

    [Theory]
    [InlineData(Text, "gan.v1.GanInference/GenerateFromTextStream", new string[0])]
    [InlineData(UNet, "gan.v1.GanInference/TranslateStream", new[] { "--images", "IMAGES" })]
    [InlineData(TinyModels.Conditional, "gan.v1.GanInference/GenerateStream", new[] { "--format", "raw-u8" })]
    public async Task Stream_sends_each_request_as_one_streaming_call(string model, string rpc, string[] extra)
    {
        var json = _root.Combine($"stream-{model}.json");

        var result = await CliRun.InvokeAsync(
            ["bench", "--server", _address, "--model", model, "--stream", "--count", "5", "--concurrency", "2", "--warmup", "0s", "--duration", "1s",
             "--metrics-url", "http://127.0.0.1:9/metrics", "--json", json, .. extra.Select(e => e == "IMAGES" ? Images : e)]);

        Assert.True(result.ExitCode == 0, result.ToString());
        using var report = JsonDocument.Parse(await File.ReadAllTextAsync(json));
        var root = report.RootElement;
        Assert.Equal(rpc, root.GetProperty("rpc").GetString());
        var succeeded = root.GetProperty("succeeded").GetInt64();
        Assert.True(root.GetProperty("failed").GetInt64() == 0, root.GetProperty("errors").ToString());
        Assert.True(succeeded > 0, result.ToString());
        Assert.Equal(5 * succeeded, root.GetProperty("images").GetInt64());
    }

    [Fact]
    public async Task A_translate_stream_whose_image_fails_counts_the_request_as_failed_with_the_images_status()
    {
        var bad = _root.Combine("bad");
        Directory.CreateDirectory(bad);
        await File.WriteAllBytesAsync(Path.Combine(bad, "broken.png"), [0x89, 0x50, 0x4E, 0x47, 1, 2, 3]);
        var json = _root.Combine("bad.json");

        var result = await CliRun.InvokeAsync(
            "bench", "--server", _address, "--model", UNet, "--stream", "--images", bad, "--count", "2", "--concurrency", "1", "--warmup", "0s", "--duration", "0.5s",
            "--metrics-url", "http://127.0.0.1:9/metrics", "--json", json);

        Assert.True(result.ExitCode == 0, result.ToString());
        using var report = JsonDocument.Parse(await File.ReadAllTextAsync(json));
        var root = report.RootElement;
        Assert.Equal(0, root.GetProperty("succeeded").GetInt64());
        Assert.True(root.GetProperty("statusCodes").GetProperty("INVALID_ARGUMENT").GetInt64() > 0, root.ToString());
    }

    [Fact]
    public async Task A_captions_file_feeds_the_text_kind()
    {
        var captions = _root.Combine("captions.txt");
        await File.WriteAllLinesAsync(captions, ["a green digit", "", "white background"]);
        var json = _root.Combine("file.json");

        var result = await CliRun.InvokeAsync(
            "bench", "--server", _address, "--model", Text, "--kind", "text", "--texts-file", captions, "--count", "3", "--concurrency", "1",
            "--warmup", "0s", "--duration", "1s", "--metrics-url", "http://127.0.0.1:9/metrics", "--json", json);

        Assert.True(result.ExitCode == 0, result.ToString());
        using var report = JsonDocument.Parse(await File.ReadAllTextAsync(json));
        Assert.Equal(0, report.RootElement.GetProperty("failed").GetInt64());
        Assert.Equal(3 * report.RootElement.GetProperty("succeeded").GetInt64(), report.RootElement.GetProperty("images").GetInt64());
    }

    [Theory]
    [InlineData(Text, "text", new string[0])]
    [InlineData(UNet, "translate", new[] { "--images", "IMAGES", "--format", "jpeg" })]
    public async Task The_in_process_ceiling_runs_every_kind(string model, string kind, string[] extra)
    {
        var json = _root.Combine($"ceiling-{model}.json");

        var result = await CliRun.InvokeAsync(
            ["bench", "--in-process", "--model-dir", Path.Combine(Models, model), "--batch", "1,3", "--warmup", "0s", "--duration", "0.3s", "--json", json,
             .. extra.Select(e => e == "IMAGES" ? Images : e)]);

        Assert.True(result.ExitCode == 0, result.ToString());
        using var report = JsonDocument.Parse(await File.ReadAllTextAsync(json));
        var root = report.RootElement;
        Assert.Equal(kind, root.GetProperty("kind").GetString());
        Assert.Equal(kind == "translate" ? "JPEG" : null, root.TryGetProperty("format", out var format) ? format.GetString() : null);
        var results = root.GetProperty("results").EnumerateArray().ToArray();
        Assert.Equal([1, 3], results.Select(r => r.GetProperty("batch").GetInt32()));
        Assert.All(results, r => Assert.True(r.GetProperty("imagesPerSecond").GetDouble() > 0));
    }

    [Theory]
    [InlineData(TinyModels.Unconditional, new[] { "--kind", "translate" }, "--kind translate: model 'tiny-uncond' is unconditional, which `gan bench` measures with --kind seeds.")]
    [InlineData(UNet, new string[0], "--kind translate needs --images FOLDER")]
    [InlineData(UNet, new[] { "--images", "EMPTY" }, "holds no .png, .jpg or .jpeg files")]
    [InlineData(Text, new[] { "--protocol", "oip" }, "--protocol oip measures seed-driven Generate only; --kind text runs over --protocol gan.")]
    [InlineData(TinyModels.Unconditional, new[] { "--texts", "a red digit" }, "--texts / --texts-file are the captions of --kind text; this run is --kind seeds.")]
    [InlineData(Text, new[] { "--images", "IMAGES" }, "--images are the inputs of --kind translate; this run is --kind text.")]
    [InlineData(TinyModels.Conditional, new[] { "--protocol", "oip", "--stream" }, "--stream: --protocol oip has no streaming calls; use --protocol gan.")]
    public async Task A_kind_or_input_that_does_not_fit_is_refused_before_any_load(string model, string[] extra, string expected)
    {
        var empty = _root.Combine("empty");
        Directory.CreateDirectory(empty);

        var result = await CliRun.InvokeAsync(
            ["bench", "--server", _address, "--model", model, "--duration", "1s", .. extra.Select(e => e == "IMAGES" ? Images : e == "EMPTY" ? empty : e)]);

        Assert.Equal(ExitCodes.BadInput, result.ExitCode);
        Assert.Contains(expected, result.Error);
        Assert.DoesNotContain("warming up", result.Output);
    }

    [Fact]
    public async Task The_in_process_ceiling_refuses_a_kind_its_model_does_not_take()
    {
        var result = await CliRun.InvokeAsync("bench", "--in-process", "--model-dir", Path.Combine(Models, UNet), "--kind", "seeds", "--duration", "0.1s");

        Assert.Equal(ExitCodes.BadInput, result.ExitCode);
        Assert.Contains("is image-to-image, which `gan bench` measures with --kind translate", result.Error);
    }

    private static byte[] Encode(int width, int height, SKEncodedImageFormat format)
    {
        using var bitmap = new SKBitmap(width, height, SKColorType.Rgba8888, SKAlphaType.Opaque);
        for (var y = 0; y < height; y++)
        {
            for (var x = 0; x < width; x++)
            {
                bitmap.SetPixel(x, y, new SKColor((byte)(x * 9), (byte)(y * 7), (byte)((x + y) * 5)));
            }
        }

        using var image = SKImage.FromBitmap(bitmap);
        using var data = image.Encode(format, 90);
        return data.ToArray();
    }
}

using System.Text.Json.Nodes;
using GanInference.Onnx;
using GanInference.Server;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging;
using SkiaSharp;

namespace GanInference.Cli.Tests.Commands;

/// <summary>`gan translate` against a real server with a tiny image-to-image model (8×8 grey → (x, −x, x/2) RGB).</summary>
public sealed class TranslateCommandTests : IAsyncLifetime
{
    private const string Model = "tiny-translate";
    private const int Size = 8;
    private readonly string _root = Path.Combine(Path.GetTempPath(), "gan-cli-translate-" + Guid.NewGuid().ToString("N"));
    private WebApplication? _app;
    private string _address = string.Empty;

    public async Task InitializeAsync()
    {
        var folder = Path.Combine(_root, "models", Model);
        Directory.CreateDirectory(folder);
        var graph = new OnnxGraphBuilder();
        graph.Input("input", OnnxType.Float, Dim.Batch, 1, Size, Size);
        var half = graph.Node("Mul", ["input", graph.Initializer("half", (ReadOnlySpan<float>)[0.5f])]);
        graph.Node("Concat", ["input", graph.Node("Neg", ["input"]), half], "image", OnnxAttribute.Int("axis", 1));
        graph.Output("image", OnnxType.Float, Dim.Batch, 3, Size, Size);
        graph.Save(Path.Combine(folder, "model.onnx"));
        JsonObject Tensor(string name, int channels) => new()
        {
            ["name"] = name, ["role"] = "image", ["dtype"] = "float32", ["shape"] = new JsonArray(-1, channels, Size, Size), ["range"] = new JsonArray(-1, 1),
        };
        var manifest = new JsonObject
        {
            ["name"] = Model, ["kind"] = "image-to-image",
            ["inputs"] = new JsonArray(Tensor("input", 1)), ["outputs"] = new JsonArray(Tensor("image", 3)),
        };
        await File.WriteAllTextAsync(Path.Combine(folder, "gan.json"), manifest.ToJsonString());

        var builder = GanServer.CreateBuilder(["--urls=http://127.0.0.1:0", $"--Models:Path={Path.Combine(_root, "models")}", "--Http:Urls=", "--Models:Watch=false"]);
        builder.Logging.ClearProviders();
        _app = GanServer.Build(builder);
        await _app.StartAsync();
        _address = _app.Urls.First();
    }

    public async Task DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }

        Directory.Delete(_root, recursive: true);
    }

    [Fact]
    public async Task Translate_keeps_relative_paths_and_lists_bad_files_without_stopping()
    {
        var input = Path.Combine(_root, "in");
        var output = Path.Combine(_root, "out");
        Directory.CreateDirectory(Path.Combine(input, "sub", "deeper"));
        var flat = Encode(Enumerable.Repeat((byte)200, Size * Size).ToArray(), Size, Size, SKEncodedImageFormat.Png);
        await File.WriteAllBytesAsync(Path.Combine(input, "a.png"), flat);
        await File.WriteAllBytesAsync(Path.Combine(input, "sub", "b.JPG"), Encode(Enumerable.Repeat((byte)200, 16 * 16).ToArray(), 16, 16, SKEncodedImageFormat.Jpeg));
        await File.WriteAllBytesAsync(Path.Combine(input, "sub", "broken.png"), [0x89, 0x50, 0x4E, 0x47, 1, 2, 3]);
        await File.WriteAllBytesAsync(Path.Combine(input, "sub", "deeper", "c.jpeg"), flat);
        await File.WriteAllTextAsync(Path.Combine(input, "notes.txt"), "not an image");

        var result = await CliRun.InvokeAsync("translate", "--server", _address, "--model", Model, "--in", input, "--out", output, "--resize-back");

        Assert.True(result.ExitCode == ExitCodes.BadInput, result.ToString());
        Assert.Contains("translated 3 of 4 images", result.Output);
        Assert.Contains("sub/broken.png: image: ", result.Error);
        var written = Directory.GetFiles(output, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(output, f).Replace('\\', '/')).Order().ToArray();
        Assert.Equal(["a.png", "sub/b.png", "sub/deeper/c.png"], written);

        // Grey 200 in, (x, -x, x/2) out: RGB (200, 55, 164) at every pixel; b.JPG (16x16) came back at its own size.
        using var a = SKBitmap.Decode(Path.Combine(output, "a.png"));
        Assert.Equal((200, 55, 164), (a.GetPixel(3, 3).Red, a.GetPixel(3, 3).Green, a.GetPixel(3, 3).Blue));
        using var b = SKBitmap.Decode(Path.Combine(output, "sub", "b.png"));
        Assert.Equal((16, 16), (b.Width, b.Height));
    }

    [Fact]
    public async Task Translate_refuses_a_missing_input_folder_before_calling_the_server()
    {
        var missing = await CliRun.InvokeAsync("translate", "--server", _address, "--model", Model, "--in", Path.Combine(_root, "nope"), "--out", Path.Combine(_root, "o"));

        Assert.Equal(ExitCodes.BadInput, missing.ExitCode);
        Assert.Contains("--in: folder", missing.Error);
    }

    private static byte[] Encode(byte[] grey, int width, int height, SKEncodedImageFormat format)
    {
        using var image = SKImage.FromPixelCopy(new SKImageInfo(width, height, SKColorType.Gray8, SKAlphaType.Opaque), grey);
        using var data = image.Encode(format, 95);
        return data.ToArray();
    }
}

using System.Text.Json.Nodes;
using GanInference.Onnx;
using SkiaSharp;

namespace GanInference.Cli.Tests.Commands;

/// <summary>`gan translate` against a real server with a tiny image-to-image model (8×8 grey → (x, −x, x/2) RGB).</summary>
public sealed class TranslateCommandTests : IAsyncLifetime
{
    private const string Model = "tiny-translate";
    private const int Size = 8;
    private readonly string _root = Path.Combine(Path.GetTempPath(), "gan-cli-translate-" + Guid.NewGuid().ToString("N"));
    private InProcessGanServer? _server;
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

        _server = await InProcessGanServer.StartAsync(Path.Combine(_root, "models"), models: 1);
        _address = _server.Address;
    }

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
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
        Assert.Contains("1 file was not translated:", result.Error);
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

    [Fact]
    public async Task Out_equal_to_in_is_refused_and_the_inputs_are_untouched_unless_overwrite_is_given()
    {
        var input = await WriteInputsAsync("same");
        var before = Directory.GetFiles(input).ToDictionary(f => f, File.ReadAllBytes);

        var refused = await CliRun.InvokeAsync("translate", "--server", _address, "--model", Model, "--in", input, "--out", input);

        Assert.Equal(ExitCodes.BadInput, refused.ExitCode);
        Assert.StartsWith("--out is the same folder as --in", refused.Error);
        Assert.Contains("add --overwrite", refused.Error);
        Assert.All(before, pair => Assert.Equal(pair.Value, File.ReadAllBytes(pair.Key)));

        var allowed = await CliRun.InvokeAsync("translate", "--server", _address, "--model", Model, "--in", input, "--out", input, "--overwrite");

        Assert.True(allowed.ExitCode == 0, allowed.ToString());
        Assert.NotEqual(before[Path.Combine(input, "a.png")], File.ReadAllBytes(Path.Combine(input, "a.png")));
    }

    [Fact]
    public async Task Out_inside_in_is_refused_and_with_overwrite_its_files_are_not_read_as_inputs()
    {
        var input = await WriteInputsAsync("inside");
        var output = Path.Combine(input, "translated");

        var refused = await CliRun.InvokeAsync("translate", "--server", _address, "--model", Model, "--in", input, "--out", output);
        Assert.Equal(ExitCodes.BadInput, refused.ExitCode);
        Assert.StartsWith($"--out '{output}' is inside --in", refused.Error);
        Assert.False(Directory.Exists(output));

        var first = await CliRun.InvokeAsync("translate", "--server", _address, "--model", Model, "--in", input, "--out", output, "--overwrite");
        var second = await CliRun.InvokeAsync("translate", "--server", _address, "--model", Model, "--in", input, "--out", output, "--overwrite");

        Assert.True(first.ExitCode == 0, first.ToString());
        Assert.True(second.ExitCode == 0, second.ToString());
        Assert.Contains("translated 2 of 2 images", second.Output);
        Assert.False(Directory.Exists(Path.Combine(output, "translated")));
    }

    [Fact]
    public async Task A_non_empty_out_is_refused_and_an_existing_file_is_only_replaced_with_overwrite()
    {
        var input = await WriteInputsAsync("nonempty");
        var output = Path.Combine(_root, "nonempty-out");
        Directory.CreateDirectory(output);
        var mine = Path.Combine(output, "a.png");
        await File.WriteAllTextAsync(mine, "the user's own file");

        var refused = await CliRun.InvokeAsync("translate", "--server", _address, "--model", Model, "--in", input, "--out", output);

        Assert.Equal(ExitCodes.BadInput, refused.ExitCode);
        Assert.StartsWith($"--out: '{output}' is not empty (it holds 'a.png')", refused.Error);
        Assert.Equal("the user's own file", await File.ReadAllTextAsync(mine));

        var replaced = await CliRun.InvokeAsync("translate", "--server", _address, "--model", Model, "--in", input, "--out", output, "--overwrite");
        Assert.True(replaced.ExitCode == 0, replaced.ToString());
        Assert.NotEqual("the user's own file", await File.ReadAllTextAsync(mine));
    }

    [Fact]
    public async Task A_dataset_folder_is_never_a_translate_output()
    {
        var input = await WriteInputsAsync("todataset");
        var output = Path.Combine(_root, "dataset");
        Directory.CreateDirectory(output);
        await File.WriteAllTextAsync(Path.Combine(output, "dataset.json"), "{}");

        var result = await CliRun.InvokeAsync("translate", "--server", _address, "--model", Model, "--in", input, "--out", output, "--overwrite");

        Assert.Equal(ExitCodes.BadInput, result.ExitCode);
        Assert.Contains("holds a `gan dataset`", result.Error);
        Assert.Single(Directory.GetFiles(output));
    }

    [Fact]
    public async Task A_failed_translate_removes_the_output_folder_it_created()
    {
        var input = await WriteInputsAsync("unknownmodel");
        var output = Path.Combine(_root, "new-out", "deeper");

        var result = await CliRun.InvokeAsync("translate", "--server", _address, "--model", "no-such-model", "--in", input, "--out", output);

        Assert.Equal(ExitCodes.UnknownModel, result.ExitCode);
        Assert.False(Directory.Exists(Path.Combine(_root, "new-out")));
    }

    [Fact]
    public async Task An_unsupported_file_gets_advice_the_cli_user_can_follow()
    {
        var input = Path.Combine(_root, "gif");
        Directory.CreateDirectory(input);
        await File.WriteAllBytesAsync(Path.Combine(input, "g.png"), "GIF89a\u0001\u0000\u0001\u0000"u8.ToArray());

        var result = await CliRun.InvokeAsync("translate", "--server", _address, "--model", Model, "--in", input, "--out", Path.Combine(_root, "gif-out"));

        Assert.Equal(ExitCodes.BadInput, result.ExitCode);
        Assert.Contains("g.png: ", result.Error);
        Assert.Contains("convert the file to PNG or JPEG", result.Error);
        Assert.DoesNotContain("RAW_U8", result.Error);
    }

    [Fact]
    public async Task Generate_with_an_image_to_image_model_points_to_translate()
    {
        var result = await CliRun.InvokeAsync("generate", "--server", _address, "--model", Model, "--out", Path.Combine(_root, "gen"));

        Assert.Equal(ExitCodes.BadInput, result.ExitCode);
        Assert.Contains($"use `gan translate --model {Model} --in FOLDER --out FOLDER`", result.Error);
    }

    private async Task<string> WriteInputsAsync(string name)
    {
        var input = Path.Combine(_root, name);
        Directory.CreateDirectory(input);
        await File.WriteAllBytesAsync(Path.Combine(input, "a.png"), Encode(Enumerable.Repeat((byte)200, Size * Size).ToArray(), Size, Size, SKEncodedImageFormat.Png));
        await File.WriteAllBytesAsync(Path.Combine(input, "b.png"), Encode(Enumerable.Repeat((byte)20, Size * Size).ToArray(), Size, Size, SKEncodedImageFormat.Png));
        return input;
    }

    private static byte[] Encode(byte[] grey, int width, int height, SKEncodedImageFormat format)
    {
        using var image = SKImage.FromPixelCopy(new SKImageInfo(width, height, SKColorType.Gray8, SKAlphaType.Opaque), grey);
        using var data = image.Encode(format, 95);
        return data.ToArray();
    }
}

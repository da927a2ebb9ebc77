using System.Security.Cryptography;
using System.Text.Json;
using GanInference.Client;
using GanInference.Tests.Shared;
using SkiaSharp;

namespace GanInference.Cli.Tests.Commands;

[Collection(ServerCollection.Name)]
public sealed class DatasetTests(ServerFixture server)
{
    [Fact]
    public async Task Per_class_dataset_has_class_folders_and_a_manifest_of_every_image()
    {
        using var folder = new TempFolder();
        var output = folder.Combine("digits");

        var result = await CliRun.InvokeAsync(
            "dataset", "--server", server.Address, "--model", TinyModels.Conditional, "--per-class", "5", "--seed", "1000", "--out", output);

        Assert.True(result.ExitCode == 0, result.ToString());
        var hash = await ContentHashAsync(TinyModels.Conditional);
        for (var label = 0; label < TinyModels.ClassCount; label++)
        {
            Assert.Equal(5, Directory.GetFiles(Path.Combine(output, label.ToString())).Length);
        }

        var lines = File.ReadAllLines(Path.Combine(output, "manifest.jsonl"));
        Assert.Equal(50, lines.Length);
        var seeds = new HashSet<ulong>();
        foreach (var line in lines)
        {
            using var json = JsonDocument.Parse(line);
            var root = json.RootElement;
            var file = root.GetProperty("file").GetString()!;
            var label = root.GetProperty("label").GetInt32();
            Assert.Equal(label.ToString(), file.Split('/')[0]);
            Assert.Equal(TinyModels.Conditional, root.GetProperty("model").GetString());
            Assert.Equal(hash, root.GetProperty("content_hash").GetString());
            Assert.True(seeds.Add(root.GetProperty("seed").GetUInt64()));
            using var bitmap = SKBitmap.Decode(Path.Combine(output, file));
            Assert.Equal(TinyModels.Size, bitmap.Width);
        }

        var csv = File.ReadAllLines(Path.Combine(output, "manifest.csv"));
        Assert.Equal("file,index,seed,label,class,model,content_hash", csv[0]);
        Assert.Equal(51, csv.Length);
        Assert.Equal($"0/00001000.png,0,1000,0,0,{TinyModels.Conditional},{hash}", csv[1]);
        Assert.Equal($"9/00001049.png,49,1049,9,9,{TinyModels.Conditional},{hash}", csv[50]);
    }

    [Fact]
    public async Task Interrupted_dataset_resumes_to_the_same_files_and_manifest()
    {
        using var folder = new TempFolder();
        var reference = folder.Combine("reference");
        var resumed = folder.Combine("resumed");
        string[] args(string output) =>
            ["dataset", "--server", server.Address, "--model", TinyModels.Conditional, "--per-class", "100", "--out", output];

        var full = await CliRun.InvokeAsync(args(reference));
        Assert.True(full.ExitCode == 0, full.ToString());

        // Cancel the token (what Ctrl-C does) once the first images are on disk.
        using var cancellation = new CancellationTokenSource();
        var interrupted = CliRun.InvokeAsync(cancellation.Token, args(resumed));
        var manifest = Path.Combine(resumed, "manifest.jsonl");
        while (!interrupted.IsCompleted && (!File.Exists(manifest) || CountLines(manifest) < 20))
        {
            await Task.Delay(1);
        }

        await cancellation.CancelAsync();
        var first = await interrupted;
        Assert.True(first.ExitCode == ExitCodes.Interrupted, first.ToString());
        Assert.Contains("run the same command again to resume", first.Error);
        var partialLines = File.ReadAllLines(manifest);
        Assert.InRange(partialLines.Length, 20, 999);
        var keptBefore = Snapshot(resumed);
        Assert.Equal(partialLines.Length, keptBefore.Count(f => f.Key.EndsWith(".png", StringComparison.Ordinal)));

        var second = await CliRun.InvokeAsync(args(resumed));

        Assert.True(second.ExitCode == 0, second.ToString());
        Assert.Contains($"{partialLines.Length} already complete", second.Output);
        Assert.Equal(File.ReadAllText(Path.Combine(reference, "manifest.jsonl")), File.ReadAllText(manifest));
        Assert.Equal(File.ReadAllText(Path.Combine(reference, "manifest.csv")), File.ReadAllText(Path.Combine(resumed, "manifest.csv")));
        var referenceFiles = Snapshot(reference);
        var resumedFiles = Snapshot(resumed);
        Assert.Equal(referenceFiles.Keys.Order(), resumedFiles.Keys.Order());
        foreach (var (file, digest) in keptBefore.Where(f => f.Key.EndsWith(".png", StringComparison.Ordinal)))
        {
            Assert.Equal(digest, resumedFiles[file]);
        }

        foreach (var file in referenceFiles.Keys.Where(f => f.EndsWith(".png", StringComparison.Ordinal)))
        {
            AssertSamePixels(Path.Combine(reference, file), Path.Combine(resumed, file));
        }
    }

    [Fact]
    public async Task A_hard_kill_mid_write_is_repaired_on_resume()
    {
        using var folder = new TempFolder();
        var output = folder.Combine("data");
        string[] args = ["dataset", "--server", server.Address, "--model", TinyModels.Conditional, "--count", "12", "--out", output];
        var first = await CliRun.InvokeAsync(args);
        Assert.True(first.ExitCode == 0, first.ToString());
        var reference = Snapshot(output);

        // What a killed process can leave: a manifest line cut short, a line whose file is gone
        // (deleted by hand), and an image still under its temporary name.
        var jsonl = Path.Combine(output, "manifest.jsonl");
        var lines = File.ReadAllLines(jsonl);
        var lost = JsonDocument.Parse(lines[5]).RootElement.GetProperty("file").GetString()!;
        File.Delete(Path.Combine(output, lost));
        await File.AppendAllTextAsync(jsonl, "{\"file\":\"3/000");
        await File.WriteAllBytesAsync(Path.Combine(output, lost + ".partial"), [1, 2, 3]);

        var second = await CliRun.InvokeAsync(args);

        Assert.True(second.ExitCode == 0, second.ToString());
        Assert.Contains("(1 generated", second.Output);
        Assert.Equal(reference.Keys.Order(), Snapshot(output).Keys.Order());
        // The regenerated image's line, identical to its old one, back in its place: the manifests equal the first run's.
        Assert.Equal(lines, File.ReadAllLines(jsonl));
        Assert.Equal(reference, Snapshot(output));
        Assert.Equal(File.ReadAllLines(jsonl).Length + 1, File.ReadAllLines(Path.Combine(output, "manifest.csv")).Length);
        Assert.All(File.ReadAllLines(jsonl), line => JsonDocument.Parse(line).Dispose());
    }

    [Fact]
    public async Task A_server_crash_and_restart_mid_stream_is_ridden_out()
    {
        using var folder = new TempFolder();
        var output = folder.Combine("data");
        var port = LoopbackPorts.Free();
        var first = await ServerProcess.StartAsync(port, server.ModelsPath);
        var run = CliRun.InvokeAsync("dataset", "--server", first.Address, "--model", TinyModels.Conditional, "--per-class", "60", "--out", output);
        var manifest = Path.Combine(output, "manifest.jsonl");
        while (!run.IsCompleted && (!File.Exists(manifest) || CountLines(manifest) < 20))
        {
            await Task.Delay(1);
        }

        // Kill the server mid-stream, then bring it back on the same port.
        await first.DisposeAsync();
        var completeAtCrash = CountLines(manifest);
        await using var second = await ServerProcess.StartAsync(port, server.ModelsPath);
        var result = await run;

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.InRange(completeAtCrash, 20, 599);
        Assert.Equal(600, File.ReadAllLines(manifest).Length);
        Assert.Equal(600, Directory.GetFiles(output, "*.png", SearchOption.AllDirectories).Length);
    }

    [Fact]
    public async Task Dataset_of_another_model_is_refused_and_left_untouched()
    {
        using var folder = new TempFolder();
        var output = folder.Combine("data");
        var first = await CliRun.InvokeAsync("dataset", "--server", server.Address, "--model", TinyModels.Conditional, "--count", "12", "--out", output);
        Assert.True(first.ExitCode == 0, first.ToString());
        var before = Snapshot(output);

        var other = await CliRun.InvokeAsync("dataset", "--server", server.Address, "--model", TinyModels.Unconditional, "--count", "12", "--out", output);
        var changed = await CliRun.InvokeAsync("dataset", "--server", server.Address, "--model", TinyModels.Conditional, "--count", "20", "--out", output);

        Assert.Equal(ExitCodes.BadInput, other.ExitCode);
        Assert.Contains($"holds images of model '{TinyModels.Conditional}'", other.Error);
        Assert.Contains("refusing to mix models", other.Error);
        Assert.Equal(ExitCodes.BadInput, changed.ExitCode);
        Assert.StartsWith("--count 20 differs from the --count 12", changed.Error);
        Assert.Equal(before, Snapshot(output));
    }

    [Fact]
    public async Task Count_into_a_per_class_dataset_names_the_options_the_user_typed_and_how_to_resume()
    {
        using var folder = new TempFolder();
        var output = folder.Combine("data");
        var first = await CliRun.InvokeAsync("dataset", "--server", server.Address, "--model", TinyModels.Conditional, "--per-class", "2", "--out", output);
        Assert.True(first.ExitCode == 0, first.ToString());

        var changed = await CliRun.InvokeAsync("dataset", "--server", server.Address, "--model", TinyModels.Conditional, "--count", "50", "--out", output);

        Assert.Equal(ExitCodes.BadInput, changed.ExitCode);
        Assert.StartsWith("--count 50 differs from the --per-class 2 this dataset", changed.Error);
        Assert.Contains("run with --per-class 2 to resume it", changed.Error);
        Assert.DoesNotContain("--per-class 0", changed.Error);
    }

    [Fact]
    public async Task Failed_dataset_leaves_no_empty_output_folder()
    {
        using var folder = new TempFolder();
        var output = folder.Combine("new", "data");

        var result = await CliRun.InvokeAsync("dataset", "--server", server.Address, "--model", "no-such-model", "--count", "5", "--out", output);

        Assert.Equal(ExitCodes.UnknownModel, result.ExitCode);
        Assert.False(Directory.Exists(folder.Combine("new")), "the folders the command created are removed");
    }

    [Fact]
    public async Task Unconditional_dataset_goes_to_one_unlabeled_folder()
    {
        using var folder = new TempFolder();

        var result = await CliRun.InvokeAsync("dataset", "--server", server.Address, "--model", TinyModels.Unconditional, "--count", "7", "--format", "jpeg", "--out", folder.Path);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal(7, Directory.GetFiles(Path.Combine(folder.Path, "unlabeled"), "*.jpg").Length);
        Assert.All(File.ReadAllLines(Path.Combine(folder.Path, "manifest.csv")).Skip(1), line => Assert.Contains(",,,", line));
    }

    private async Task<string> ContentHashAsync(string model)
    {
        using var client = new GanClient(new GanClientOptions { Address = new Uri(server.Address) });
        return (await client.GetModelAsync(model)).ContentHash;
    }

    private static int CountLines(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var reader = new StreamReader(stream);
        var count = 0;
        while (reader.ReadLine() is not null)
        {
            count++;
        }

        return count;
    }

    private static Dictionary<string, string> Snapshot(string root) =>
        Directory.GetFiles(root, "*", SearchOption.AllDirectories).ToDictionary(
            f => Path.GetRelativePath(root, f),
            f => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(f))));

    /// <summary>Equal up to one 8-bit level, the determinism contract across batch compositions.</summary>
    private static void AssertSamePixels(string expectedPath, string actualPath)
    {
        using var expected = SKBitmap.Decode(expectedPath);
        using var actual = SKBitmap.Decode(actualPath);
        for (var y = 0; y < expected.Height; y++)
        {
            for (var x = 0; x < expected.Width; x++)
            {
                Assert.InRange(Math.Abs(expected.GetPixel(x, y).Red - actual.GetPixel(x, y).Red), 0, 1);
            }
        }
    }
}

using GanInference.Tests.Shared;

namespace GanInference.Cli.Tests.Commands;

/// <summary>
/// `gan dataset` driving the shipped text-conditional (stackgan-digits) and image-to-image (pix2pix-outline2digit)
/// models of models/ through a real server process, checked against what `gan generate --texts` and
/// `gan translate` make from the same inputs.
/// </summary>
/// <remarks>In the server collection, so its server's start does not overlap the timing-sensitive crash and restart tests.</remarks>
[Collection(ServerCollection.Name)]
public sealed class DatasetKindsTests(ShippedModelsServer server) : IClassFixture<ShippedModelsServer>
{
    private const string TextModel = "stackgan-digits";
    private const string TranslateModel = "pix2pix-outline2digit";

    [Fact]
    public async Task Captions_from_a_file_give_count_images_each_identical_to_gan_generate_and_shard_and_merge_to_the_same_bytes()
    {
        using var folder = new TempFolder();
        var captions = folder.Combine("captions.txt");
        string[] lines = ["a thick red seven on a black background", "", "a thin blue one"];
        await File.WriteAllLinesAsync(captions, lines);
        string[] Args(string output) => ["dataset", "--server", server.Address, "--model", TextModel, "--texts-file", captions, "--count", "3", "--seed", "10", "--out", output];

        var whole = await CliRun.InvokeAsync(Args(folder.Combine("whole")));
        var generated = await CliRun.InvokeAsync(
            "generate", "--server", server.Address, "--model", TextModel, "--texts", lines[0], "--texts", lines[2], "--count", "3", "--seed", "10", "--out", folder.Combine("generated"));

        Assert.True(whole.ExitCode == 0, whole.ToString());
        Assert.True(generated.ExitCode == 0, generated.ToString());
        var csv = File.ReadAllLines(folder.Combine("whole", "manifest.csv"));
        Assert.Equal("file,index,seed,label,class,model,content_hash,caption", csv[0]);
        Assert.Equal(7, csv.Length);
        Assert.StartsWith("text-000000/00000010.png,0,10,,,stackgan-digits,sha256:", csv[1]);
        Assert.EndsWith(",a thick red seven on a black background", csv[1]);
        Assert.StartsWith("text-000001/00000015.png,5,15,,,stackgan-digits,sha256:", csv[6]);
        Assert.EndsWith(",a thin blue one", csv[6]);
        for (var i = 0; i < 6; i++)
        {
            Assert.Equal(
                await File.ReadAllBytesAsync(folder.Combine("generated", $"{TextModel}-{i:D4}-t{i / 3}-s{10 + i}.png")),
                await File.ReadAllBytesAsync(folder.Combine("whole", $"text-{i / 3:D6}", $"{10 + i:D8}.png")));
        }

        // Two shards (one of 3 images, one of 3), in parallel, then merged: the same bytes.
        var shards = await Task.WhenAll(Enumerable.Range(0, 2).Select(i => Task.Run(() =>
            CliRun.InvokeAsync([.. Args(folder.Combine("sharded")), "--shard-index", i.ToString(), "--shard-count", "2"]))));
        Assert.All(shards, shard => Assert.True(shard.ExitCode == 0, shard.ToString()));
        var merged = await CliRun.InvokeAsync("dataset", "merge", "--out", folder.Combine("sharded"));
        Assert.True(merged.ExitCode == 0, merged.ToString());
        Assert.Equal(DatasetShardTests.Snapshot(folder.Combine("whole")), DatasetShardTests.Snapshot(folder.Combine("sharded")));

        // Other captions for the same folder are refused.
        var other = await CliRun.InvokeAsync(
            "dataset", "--server", server.Address, "--model", TextModel, "--texts", "green 1 on white", "--count", "3", "--seed", "10", "--out", folder.Combine("whole"));
        Assert.Equal(ExitCodes.BadInput, other.ExitCode);
        Assert.StartsWith("the captions (--texts / --texts-file) differ from the 2 this dataset", other.Error);
    }

    [Fact]
    public async Task A_source_folder_gives_one_image_each_identical_to_gan_translate_with_the_source_in_the_manifest()
    {
        using var folder = new TempFolder();
        var sources = Path.Combine(server.RepositoryRoot, "examples", "outlines");

        var dataset = await CliRun.InvokeAsync("dataset", "--server", server.Address, "--model", TranslateModel, "--in", sources, "--out", folder.Combine("data"));
        var translated = await CliRun.InvokeAsync("translate", "--server", server.Address, "--model", TranslateModel, "--in", sources, "--out", folder.Combine("translated"));

        Assert.True(dataset.ExitCode == 0, dataset.ToString());
        Assert.True(translated.ExitCode == 0, translated.ToString());
        var inputs = Directory.GetFiles(sources, "*.png").Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(12, inputs.Length);
        var csv = File.ReadAllLines(folder.Combine("data", "manifest.csv"));
        Assert.Equal("file,index,seed,label,class,model,content_hash,source", csv[0]);
        for (var i = 0; i < inputs.Length; i++)
        {
            Assert.StartsWith($"images/{inputs[i]},{i},,,,{TranslateModel},sha256:", csv[i + 1]);
            Assert.EndsWith($",{inputs[i]}", csv[i + 1]);
            Assert.Equal(
                await File.ReadAllBytesAsync(folder.Combine("translated", inputs[i]!)),
                await File.ReadAllBytesAsync(folder.Combine("data", "images", inputs[i]!)));
        }

        // Rerun: nothing to do. A seed option means nothing to an image-to-image model and is refused.
        var again = await CliRun.InvokeAsync("dataset", "--server", server.Address, "--model", TranslateModel, "--in", sources, "--out", folder.Combine("data"));
        Assert.True(again.ExitCode == 0, again.ToString());
        Assert.Contains("(0 generated", again.Output);
        var seeded = await CliRun.InvokeAsync("dataset", "--server", server.Address, "--model", TranslateModel, "--in", sources, "--seed", "3", "--out", folder.Combine("new"));
        Assert.Equal(ExitCodes.BadInput, seeded.ExitCode);
        Assert.Equal($"--seed: model '{TranslateModel}' is image-to-image: it makes one image from each file under --in and takes no --seed.", seeded.Error.Trim());
    }

    [Theory]
    [InlineData(TextModel, "--texts-file {missing} --count 2", "--texts-file: cannot read '{missing}'")]
    [InlineData(TextModel, "--count 2", "model 'stackgan-digits' is text-conditional: give captions with --texts \"...\" or --texts-file FILE, and --count N images per caption.")]
    [InlineData(TextModel, "--texts seven", "--count: give the number of images per caption (N ≥ 1) for text-conditional model 'stackgan-digits'.")]
    [InlineData(TranslateModel, "", "model 'pix2pix-outline2digit' is image-to-image: give a folder of source images with --in FOLDER (examples/ has inputs); one image is made from each.")]
    [InlineData(TranslateModel, "--in {missing}", "--in: folder '{missing}' does not exist")]
    [InlineData("dcgan-mnist", "--count 2 --texts seven", "--texts: model 'dcgan-mnist' is unconditional and takes no captions.")]
    [InlineData("dcgan-mnist", "--count 2 --in {examples}", "--in: model 'dcgan-mnist' is unconditional and takes no input images.")]
    public async Task Inputs_that_do_not_fit_the_models_kind_are_refused_before_anything_is_written(string model, string options, string message)
    {
        using var folder = new TempFolder();
        var missing = folder.Combine("no-such-thing");
        string Fill(string text) => text.Replace("{missing}", missing).Replace("{examples}", Path.Combine(server.RepositoryRoot, "examples", "outlines"));

        var result = await CliRun.InvokeAsync(
            ["dataset", "--server", server.Address, "--model", model, "--out", folder.Combine("data"), .. Fill(options).Split(' ', StringSplitOptions.RemoveEmptyEntries)]);

        Assert.Equal(ExitCodes.BadInput, result.ExitCode);
        Assert.StartsWith(Fill(message), result.Error.Trim());
        Assert.False(Directory.Exists(folder.Combine("data")));
    }
}

/// <summary>A server process serving the repository's own models/ (the shipped, trained generators).</summary>
public sealed class ShippedModelsServer : IAsyncLifetime
{
    private ServerProcess? _process;

    public string RepositoryRoot { get; } = FindRepositoryRoot();

    public string Address => _process?.Address ?? throw new InvalidOperationException("not started");

    public async Task InitializeAsync() =>
        _process = await ServerProcess.StartAsync(LoopbackPorts.Free(), Path.Combine(RepositoryRoot, "models"));

    public async Task DisposeAsync()
    {
        if (_process is not null)
        {
            await _process.DisposeAsync();
        }
    }

    private static string FindRepositoryRoot()
    {
        for (var folder = AppContext.BaseDirectory; folder is not null; folder = Path.GetDirectoryName(folder))
        {
            if (File.Exists(Path.Combine(folder, "GanInference.sln")))
            {
                return folder;
            }
        }

        throw new InvalidOperationException($"no GanInference.sln above {AppContext.BaseDirectory}");
    }
}

using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json;
using Parquet;
using Parquet.Schema;

namespace GanInference.Cli.Tests.Commands;

/// <summary>
/// `gan dataset --format webdataset|parquet`: read back by independent readers (Python's tarfile + json; Parquet.Net's
/// reader, since Debian has no python3-pyarrow) and compared image for image with the ImageFolder run of the same
/// seeds; sharded, merged and resumed to the same bytes.
/// </summary>
[Collection(ServerCollection.Name)]
public sealed class DatasetFormatTests(ServerFixture server)
{
    /// <summary>Every sample of every data-*.tar, as JSON lines: the tar, the member order, the key, the metadata and the PNG's sha256.</summary>
    private const string TarReader = """
        import glob, hashlib, json, os, sys, tarfile
        for path in sorted(glob.glob(os.path.join(sys.argv[1], "data-*.tar"))):
            with tarfile.open(path) as tar:
                members = tar.getmembers()
                for png, meta in zip(members[0::2], members[1::2]):
                    key = png.name[:-len(".png")]
                    assert png.name == key + ".png" and meta.name == key + ".json", (png.name, meta.name)
                    data = tar.extractfile(png).read()
                    print(json.dumps({"tar": os.path.basename(path), "key": key, "sha256": hashlib.sha256(data).hexdigest().upper(),
                                      "meta": json.loads(tar.extractfile(meta).read())}))
        """;

    [Fact]
    public async Task Webdataset_tars_read_by_python_hold_the_imagefolder_runs_images_and_shard_merge_and_resume_to_the_same_bytes()
    {
        using var folder = new TempFolder();
        string[] Args(string format, string output) =>
            ["dataset", "--server", server.Address, "--model", TinyModels.Conditional, "--per-class", "6", "--seed", "7", "--format", format, "--out", output];
        var reference = await CliRun.InvokeAsync(Args("png", folder.Combine("images")));
        var tars = await CliRun.InvokeAsync([.. Args("webdataset", folder.Combine("tars")), "--shard-size", "0.02"]);
        Assert.True(reference.ExitCode == 0, reference.ToString());
        Assert.True(tars.ExitCode == 0, tars.ToString());

        // 0.02 MB / (8·8·1 bytes + 1536) = 13 images per tar: 5 tars for 60 images.
        Assert.Equal(["data-000000.tar", "data-000001.tar", "data-000002.tar", "data-000003.tar", "data-000004.tar"],
            Directory.GetFiles(folder.Combine("tars"), "*.tar").Select(Path.GetFileName).Order(StringComparer.Ordinal));
        var samples = (await RunPythonAsync(TarReader, folder.Combine("tars"))).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        var imageFiles = ReferenceFiles(folder.Combine("images"));
        Assert.Equal(60, samples.Count);
        for (var i = 0; i < samples.Count; i++)
        {
            var meta = samples[i].GetProperty("meta");
            Assert.Equal($"data-{i / 13:D6}.tar", samples[i].GetProperty("tar").GetString());
            Assert.Equal(i.ToString("D8"), samples[i].GetProperty("key").GetString());
            Assert.Equal(i, meta.GetProperty("index").GetInt32());
            Assert.Equal((ulong)(7 + i), meta.GetProperty("seed").GetUInt64());
            Assert.Equal(i / 6, meta.GetProperty("label").GetInt32());
            Assert.Equal(Sha256(Path.Combine(folder.Combine("images"), imageFiles[i])), samples[i].GetProperty("sha256").GetString());
        }

        // Three shards in parallel, merged: the same tars and manifests.
        var shards = await Task.WhenAll(Enumerable.Range(0, 3).Select(i => Task.Run(() =>
            CliRun.InvokeAsync([.. Args("webdataset", folder.Combine("sharded")), "--shard-size", "0.02", "--shard-index", i.ToString(), "--shard-count", "3"]))));
        Assert.All(shards, shard => Assert.True(shard.ExitCode == 0, shard.ToString()));
        Assert.Contains("shard 0 of 3: 13 images (indices 0..12 of 60)", shards[0].Output);
        Assert.Contains("shard 2 of 3: 21 images (indices 39..59 of 60)", shards[2].Output);
        var merged = await CliRun.InvokeAsync("dataset", "merge", "--out", folder.Combine("sharded"));
        Assert.True(merged.ExitCode == 0, merged.ToString());
        var expected = DatasetShardTests.Snapshot(folder.Combine("tars"));
        Assert.Equal(expected, DatasetShardTests.Snapshot(folder.Combine("sharded")));

        // What a killed run leaves: a tar cut short under its temporary name, a tar renamed before its manifest
        // lines were written, and a manifest line cut short. The rerun makes those tars again, byte for byte.
        var tarsFolder = folder.Combine("tars");
        File.Move(Path.Combine(tarsFolder, "data-000002.tar"), Path.Combine(tarsFolder, "data-000002.tar.partial"));
        await File.WriteAllBytesAsync(Path.Combine(tarsFolder, "data-000002.tar.partial"), (await File.ReadAllBytesAsync(Path.Combine(tarsFolder, "data-000002.tar.partial")))[..5000]);
        var jsonl = Path.Combine(tarsFolder, "manifest.jsonl");
        var lines = await File.ReadAllLinesAsync(jsonl);
        // Kept: tars 0, 1 and 3 whole; tar 2's lines gone (its file is the .partial); tar 4 with 4 of its 8 lines.
        await File.WriteAllTextAsync(jsonl, string.Join('\n', lines.Where((_, i) => i < 26 || (i >= 39 && i < 56))) + "\n{\"file\":\"data-0");
        var resumed = await CliRun.InvokeAsync([.. Args("webdataset", tarsFolder), "--shard-size", "0.02"]);
        Assert.True(resumed.ExitCode == 0, resumed.ToString());
        Assert.Contains("(21 generated at", resumed.Output);
        Assert.Contains("39 already complete)", resumed.Output);
        Assert.Equal(expected, DatasetShardTests.Snapshot(tarsFolder));
    }

    [Fact]
    public async Task Parquet_rows_read_by_parquet_net_hold_the_imagefolder_runs_images_seeds_and_labels()
    {
        using var folder = new TempFolder();
        string[] Args(string format, string output) =>
            ["dataset", "--server", server.Address, "--model", TinyModels.Conditional, "--count", "40", "--seed", "3", "--format", format, "--out", output];
        var reference = await CliRun.InvokeAsync(Args("png", folder.Combine("images")));
        var parquet = await CliRun.InvokeAsync([.. Args("parquet", folder.Combine("parquet")), "--shard-size", "0.002"]);
        Assert.True(reference.ExitCode == 0, reference.ToString());
        Assert.True(parquet.ExitCode == 0, parquet.ToString());

        // 0.002 MB / (8·8·1 + 64 bytes) = 16 rows per file: 3 files for 40 images.
        var files = Directory.GetFiles(folder.Combine("parquet"), "*.parquet").Order(StringComparer.Ordinal).ToList();
        Assert.Equal(["data-000000.parquet", "data-000001.parquet", "data-000002.parquet"], files.Select(Path.GetFileName));
        var imageFiles = ReferenceFiles(folder.Combine("images"));
        var row = 0;
        foreach (var file in files)
        {
            await using var stream = File.OpenRead(file);
            await using var reader = await ParquetReader.CreateAsync(stream);
            Assert.Equal(["key", "index", "image", "seed", "label", "class", "caption", "source"], reader.Schema.GetDataFields().Select(f => f.Name));
            Assert.Equal(1, reader.RowGroupCount);
            using var group = reader.OpenRowGroupReader(0);
            var rows = (int)group.RowCount;
            var keys = new string?[rows];
            var images = new byte[]?[rows];
            var seeds = new ulong?[rows];
            var labels = new int?[rows];
            var captions = new string?[rows];
            await group.ReadAsync(Field("key"), keys.AsMemory());
            await group.ReadAsync(Field("image"), images.AsMemory());
            await group.ReadAsync<ulong>(Field("seed"), seeds.AsMemory());
            await group.ReadAsync<int>(Field("label"), labels.AsMemory());
            await group.ReadAsync(Field("caption"), captions.AsMemory());
            for (var i = 0; i < rows; i++, row++)
            {
                Assert.Equal(row.ToString("D8"), keys[i]);
                Assert.Equal((ulong)(3 + row), seeds[i]);
                Assert.Equal((3 + row) % 10, labels[i]);
                Assert.Null(captions[i]);
                Assert.Equal(await File.ReadAllBytesAsync(Path.Combine(folder.Combine("images"), imageFiles[row])), images[i]);
            }

            DataField Field(string name) => reader.Schema.GetDataFields().Single(f => f.Name == name);
        }

        Assert.Equal(40, row);
        var csv = await File.ReadAllLinesAsync(Path.Combine(folder.Combine("parquet"), "manifest.csv"));
        Assert.Equal("file,index,seed,label,class,model,content_hash,key", csv[0]);
        Assert.StartsWith("data-000002.parquet,39,42,2,2,tiny-cond,sha256:", csv[40]);
        Assert.EndsWith(",00000039", csv[40]);
    }

    [Theory]
    [InlineData("--format png --shard-size 5", "--shard-size sizes the files of --format webdataset or parquet; --format png writes one file per image.")]
    [InlineData("--format parquet --shard-size 0", "--shard-size 0: give a file size in MB, more than 0 and at most 1000000.")]
    [InlineData("--format webdataset --shard-size 100 --shard-index 0 --shard-count 2", "--shard-count 2 is more than the 1 webdataset files of this dataset (65536 images each, from --shard-size 100): some shards would be empty; use at most 1 shards or a smaller --shard-size.")]
    [InlineData("--format tiff", "--format must be one of png, jpeg, webdataset, parquet, not 'tiff'.")]
    public async Task Bad_format_options_are_refused(string options, string message)
    {
        using var folder = new TempFolder();

        var result = await CliRun.InvokeAsync(
            ["dataset", "--server", server.Address, "--model", TinyModels.Conditional, "--count", "10", "--out", folder.Combine("data"), .. options.Split(' ')]);

        Assert.Equal(ExitCodes.BadInput, result.ExitCode);
        Assert.Contains(message, result.Error);
        Assert.False(Directory.Exists(folder.Combine("data")));
    }

    /// <summary>The ImageFolder run's file of each plan index, from its manifest.</summary>
    private static string[] ReferenceFiles(string root) =>
        File.ReadAllLines(Path.Combine(root, "manifest.jsonl")).Select(l => JsonDocument.Parse(l).RootElement)
            .OrderBy(e => e.GetProperty("index").GetInt32()).Select(e => e.GetProperty("file").GetString()!).ToArray();

    private static string Sha256(string path) => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path)));

    private static async Task<string> RunPythonAsync(string script, string argument)
    {
        var start = new ProcessStartInfo("python3") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(script);
        start.ArgumentList.Add(argument);
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, $"python3 failed: {await error}");
        return await output;
    }
}

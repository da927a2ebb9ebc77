using System.CommandLine;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using GanInference.Api.V1;
using GanInference.Cli.Dataset;
using GanInference.Cli.Imaging;

namespace GanInference.Cli.Commands;

/// <summary>
/// `gan dataset`: augmentation data in class folders with a manifest, streamed, resumable, refusing to mix
/// models; from seeds (unconditional and class-conditional models), captions (text-conditional) or a folder of
/// source images (image-to-image); whole or as one shard of N (`--shard-index/--shard-count`, or an Indexed Job's
/// environment), the shards joined by `gan dataset merge`.
/// </summary>
internal static class DatasetCommand
{
    /// <summary>Images in one dataset folder: the plan indexes them with an int, the manifest lists them all.</summary>
    private const int MaxImages = 100_000_000;

    /// <summary>The Indexed Job's environment, the defaults of --shard-index and --shard-count.</summary>
    internal const string IndexVariable = "JOB_COMPLETION_INDEX";

    internal const string CountVariable = "JOB_COMPLETIONS";

    private static readonly string[] SourceExtensions = [".png", ".jpg", ".jpeg"];

    public static Command Create(CliHost host, ServerConnection connection)
    {
        var model = new Option<string>("--model", "-m") { Description = "Model name (see `gan models`)", Required = true };
        var output = new Option<string>("--out", "-o") { Description = "Dataset folder (created; an existing dataset is resumed)", Required = true };
        var count = new Option<int>("--count", "-n") { Description = "Total images (class-conditional labels are seed mod classes); with captions, images per caption" };
        var perClass = new Option<int>("--per-class") { Description = "Images per class (class-conditional models)" };
        var seed = new Option<ulong>("--seed") { Description = "Seed of the first image; image i uses seed+i", DefaultValueFactory = _ => 0 };
        var truncation = new Option<float?>("--truncation") { Description = "Truncate latents to [-t, t] (default: the model's)" };
        var format = new Option<string>("--format")
        {
            HelpName = "png|jpeg|webdataset|parquet",
            Description = "png / jpeg files in class folders, or PNG images packed into tar files (webdataset) or Parquet files of about --shard-size MB",
            DefaultValueFactory = _ => "png",
        };
        format.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<string>() is { } value && value is not ("png" or "jpeg" or DatasetPacks.WebDataset or DatasetPacks.Parquet))
            {
                result.AddError($"--format must be one of png, jpeg, webdataset, parquet, not '{value}'.");
            }
        });
        var shardSize = new Option<double?>("--shard-size")
        {
            Description = FormattableString.Invariant($"webdataset / parquet: about this many MB per file (default {DatasetPacks.DefaultSizeMb})"),
        };
        var texts = new TextSelection();
        var input = new Option<string?>("--in", "-i") { Description = "Image-to-image models: folder of PNG/JPEG source images, searched recursively; one image each" };
        var shardIndex = new Option<int?>("--shard-index") { Description = $"Write only shard I of the plan (0-based; default ${IndexVariable})" };
        var shardCount = new Option<int?>("--shard-count") { Description = $"Number of shards the plan is split into (default ${CountVariable}); join them with `gan dataset merge`" };

        var command = new Command("dataset", "Generate an augmentation dataset (ImageFolder layout + CSV/JSONL manifest); rerun to resume; shard it over several processes.");
        foreach (var option in new Option[] { model, output, count, perClass, seed, truncation, format, shardSize, texts.Texts, texts.TextsFile, input, shardIndex, shardCount })
        {
            command.Options.Add(option);
        }

        command.Subcommands.Add(CreateMerge(host, connection));

        CommandRunner.SetAction(command, host, connection, async (parse, cancellationToken) =>
        {
            var (countValue, perClassValue) = (parse.GetValue(count), parse.GetValue(perClass));
            if (countValue < 0 || perClassValue < 0 || (countValue > 0 && perClassValue > 0))
            {
                throw new CliException("give exactly one of --count N or --per-class N (N ≥ 1).");
            }

            if (countValue > MaxImages)
            {
                throw new CliException($"--count {countValue} is more than {MaxImages:N0} images; split the dataset.");
            }

            if (parse.GetValue(truncation) is { } t && (!(t >= 0) || float.IsInfinity(t)))
            {
                throw new CliException($"--truncation must be 0 or a positive number, not {t}.");
            }

            var formatName = parse.GetValue(format)!;
            var imageFormat = DatasetPacks.ImageFormatOf(formatName);
            var packed = DatasetPacks.IsPacked(formatName);
            var sizeMb = parse.GetValue(shardSize);
            if (sizeMb is { } size && (!packed || !(size > 0) || double.IsInfinity(size) || size > 1_000_000))
            {
                throw new CliException(packed
                    ? FormattableString.Invariant($"--shard-size {size}: give a file size in MB, more than 0 and at most 1000000.")
                    : $"--shard-size sizes the files of --format webdataset or parquet; --format {formatName} writes one file per image.");
            }

            var shard = ResolveShard(parse, shardIndex, shardCount, host.Environment);
            var sourceRoot = parse.GetValue(input) is { } inputPath ? Path.GetFullPath(inputPath) : null;
            var captions = texts.IsGiven(parse) ? await texts.ReadAsync(parse, cancellationToken).ConfigureAwait(false) : null;
            var sources = sourceRoot is null ? null : ListSources(sourceRoot, imageFormat);
            if (captions is not null && sources is not null)
            {
                throw new CliException("--texts/--texts-file and --in are exclusive: captions drive a text-conditional model, --in an image-to-image one.");
            }

            var root = OutputFiles.PrepareFolder(parse.GetValue(output)!, "--out", out var created);
            try
            {
                using var client = connection.CreateClient(parse);
                var info = await ModelLookup.GetAsync(client, parse.GetValue(model)!, cancellationToken).ConfigureAwait(false);
                var spec = new DatasetSpec
                {
                    Model = info.Name,
                    ContentHash = info.ContentHash,
                    PerClass = perClassValue,
                    Count = countValue,
                    Seed = parse.GetValue(seed),
                    Truncation = parse.GetValue(truncation),
                    Format = formatName,
                    Classes = [.. info.Classes],
                    ShardSizeMb = packed ? sizeMb ?? DatasetPacks.DefaultSizeMb : null,
                    ImagesPerFile = packed ? DatasetPacks.ImagesPerFile(formatName, sizeMb ?? DatasetPacks.DefaultSizeMb, info.Width, info.Height, info.Channels) : 0,
                };
                spec = info.Kind switch
                {
                    ModelKind.TextConditional => ForText(spec, info, captions, sources is not null),
                    ModelKind.ImageToImage => ForImages(spec, info, sourceRoot, sources, captions is not null, parse, count, perClass, seed, truncation),
                    _ => ForSeeds(spec, info, captions is not null, sources is not null),
                };
                var units = new DatasetPlan(spec, OutputFiles.Extension(imageFormat)).Units;
                if (!shard.IsWhole && shard.Count > units)
                {
                    throw new CliException(packed
                        ? FormattableString.Invariant($"{ShardCountSource(parse, shardCount, shard.Count)} is more than the {units} {formatName} files of this dataset ({spec.ImagesPerFile} images each, from --shard-size {spec.ShardSizeMb}): some shards would be empty; use at most {units} shards or a smaller --shard-size.")
                        : $"{ShardCountSource(parse, shardCount, shard.Count)} is more than the {spec.Total} images of this dataset: some shards would be empty; use at most {spec.Total} shards.");
                }

                var generator = new DatasetGenerator(client, spec, imageFormat, root, shard, sourceRoot);
                return await generator.RunAsync(host.Console, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                OutputFiles.RemoveIfNoFiles(created);
            }
        });
        return command;
    }

    private static Command CreateMerge(CliHost host, ServerConnection connection)
    {
        var output = new Option<string>("--out", "-o") { Description = "The dataset folder the shards wrote (their --out)", Required = true };
        var merge = new Command(
            "merge",
            "Check that the shards in a dataset folder make the whole dataset (every image once, no stray or half-written file) and write its one manifest; needs no server.");
        merge.Options.Add(output);
        CommandRunner.SetAction(merge, host, connection, (parse, _) =>
        {
            var root = Path.GetFullPath(parse.GetValue(output)!);
            if (!Directory.Exists(root))
            {
                throw new CliException($"--out: folder '{parse.GetValue(output)}' does not exist; give the folder the shards wrote (their --out).");
            }

            return Task.FromResult(DatasetMerge.Run(host.Console, root));
        });
        return merge;
    }

    /// <summary>
    /// The shard this run writes: the options, else the Indexed Job's environment, else the whole dataset. Every
    /// refusal names where the bad value came from (the option or the variable) and the limit.
    /// </summary>
    internal static DatasetShard ResolveShard(ParseResult parse, Option<int?> indexOption, Option<int?> countOption, Func<string, string?> environment)
    {
        var index = parse.GetValue(indexOption) is { } i ? (Value: i, Source: $"--shard-index {i}")
            : FromEnvironment(environment, IndexVariable) is { } e ? (Value: e, Source: $"{IndexVariable}={e}")
            : ((int Value, string Source)?)null;
        var count = parse.GetValue(countOption) is { } c ? (Value: c, Source: $"--shard-count {c}")
            : FromEnvironment(environment, CountVariable) is { } n ? (Value: n, Source: $"{CountVariable}={n}")
            : ((int Value, string Source)?)null;
        if (index is null && count is null)
        {
            return DatasetShard.Whole;
        }

        if (count is null)
        {
            throw new CliException($"{index!.Value.Source} needs the number of shards: give --shard-count N (or set {CountVariable}).");
        }

        if (count.Value.Value < 1 || count.Value.Value > DatasetShard.MaxCount)
        {
            throw new CliException($"{count.Value.Source}: the number of shards must be 1..{DatasetShard.MaxCount}.");
        }

        if (index is null)
        {
            if (count.Value.Value == 1)
            {
                return DatasetShard.Whole;
            }

            throw new CliException($"{count.Value.Source} needs this run's shard: give --shard-index I (0..{count.Value.Value - 1}, or set {IndexVariable}).");
        }

        if (index.Value.Value < 0 || index.Value.Value >= count.Value.Value)
        {
            throw new CliException($"{index.Value.Source}: a shard index is 0..{count.Value.Value - 1} for {count.Value.Source}.");
        }

        return new DatasetShard(index.Value.Value, count.Value.Value);
    }

    private static int? FromEnvironment(Func<string, string?> environment, string name)
    {
        var text = environment(name);
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }

        return int.TryParse(text.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var value)
            ? value
            : throw new CliException($"{name}='{text}' is not a whole number ≥ 0 (it is the default of --{(name == IndexVariable ? "shard-index" : "shard-count")}; unset it or give the option).");
    }

    private static string ShardCountSource(ParseResult parse, Option<int?> countOption, int count) =>
        parse.GetValue(countOption) is not null ? $"--shard-count {count}" : $"{CountVariable}={count}";

    private static DatasetSpec ForSeeds(DatasetSpec spec, ModelInfo info, bool hasCaptions, bool hasSources)
    {
        if (hasCaptions)
        {
            throw new CliException($"--texts: model '{info.Name}' is {ModelLookup.KindName(info.Kind)} and takes no captions.");
        }

        if (hasSources)
        {
            throw new CliException($"--in: model '{info.Name}' is {ModelLookup.KindName(info.Kind)} and takes no input images.");
        }

        ModelLookup.RequireSeedDriven(info, "dataset");
        if (spec.PerClass == 0 && spec.Count == 0)
        {
            throw new CliException("give exactly one of --count N or --per-class N (N ≥ 1).");
        }

        if (spec.PerClass > 0 && info.Kind != ModelKind.ClassConditional)
        {
            throw new CliException($"--per-class: model '{info.Name}' is {ModelLookup.KindName(info.Kind)}; use --count.");
        }

        if ((long)spec.PerClass * info.Classes.Count > MaxImages)
        {
            throw new CliException($"--per-class {spec.PerClass} x {info.Classes.Count} classes is more than {MaxImages:N0} images; split the dataset.");
        }

        return spec;
    }

    private static DatasetSpec ForText(DatasetSpec spec, ModelInfo info, IReadOnlyList<string>? captions, bool hasSources)
    {
        if (hasSources)
        {
            throw new CliException($"--in: model '{info.Name}' is text-conditional and takes captions (--texts / --texts-file), not input images.");
        }

        if (captions is null)
        {
            throw new CliException($"model '{info.Name}' is text-conditional: give captions with --texts \"...\" or --texts-file FILE, and --count N images per caption.");
        }

        if (spec.PerClass > 0)
        {
            throw new CliException($"--per-class: model '{info.Name}' is text-conditional and has no classes; use --count N images per caption.");
        }

        if (spec.Count == 0)
        {
            throw new CliException($"--count: give the number of images per caption (N ≥ 1) for text-conditional model '{info.Name}'.");
        }

        if ((long)spec.Count * captions.Count > MaxImages)
        {
            throw new CliException($"--count {spec.Count} x {captions.Count} captions is more than {MaxImages:N0} images; split the dataset.");
        }

        return spec with { Captions = [.. captions] };
    }

    private static DatasetSpec ForImages(
        DatasetSpec spec, ModelInfo info, string? sourceRoot, List<string>? sources, bool hasCaptions, ParseResult parse,
        Option<int> count, Option<int> perClass, Option<ulong> seed, Option<float?> truncation)
    {
        if (hasCaptions)
        {
            throw new CliException($"--texts: model '{info.Name}' is image-to-image and takes input images (--in FOLDER), not captions.");
        }

        if (sourceRoot is null || sources is null)
        {
            throw new CliException($"model '{info.Name}' is image-to-image: give a folder of source images with --in FOLDER (examples/ has inputs); one image is made from each.");
        }

        foreach (var (option, name) in new (Option Option, string Name)[] { (count, "--count"), (perClass, "--per-class"), (seed, "--seed"), (truncation, "--truncation") })
        {
            if (parse.GetResult(option) is { Implicit: false })
            {
                throw new CliException($"{name}: model '{info.Name}' is image-to-image: it makes one image from each file under --in and takes no {name}.");
            }
        }

        return spec with { Sources = sources, SourcesHash = HashSources(sourceRoot, sources) };
    }

    /// <summary>The PNG/JPEG files under <paramref name="root"/>, relative, with '/', in ordinal order; two that would write one output file are refused.</summary>
    private static List<string> ListSources(string root, ImageFormat format)
    {
        if (!Directory.Exists(root))
        {
            throw new CliException($"--in: folder '{root}' does not exist (examples/ in the repository has inputs for the shipped image-to-image models).");
        }

        var files = Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories)
            .Where(f => SourceExtensions.Contains(Path.GetExtension(f), StringComparer.OrdinalIgnoreCase))
            .Select(f => Path.GetRelativePath(root, f).Replace(Path.DirectorySeparatorChar, '/'))
            .Order(StringComparer.Ordinal)
            .ToList();
        if (files.Count == 0)
        {
            throw new CliException($"--in: no .png, .jpg or .jpeg files under '{root}'.");
        }

        if (files.Count > MaxImages)
        {
            throw new CliException($"--in: {files.Count} files under '{root}' are more than {MaxImages:N0} images; split the dataset.");
        }

        var outputs = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var file in files)
        {
            var target = Path.ChangeExtension(file, OutputFiles.Extension(format));
            if (!outputs.TryAdd(target, file))
            {
                throw new CliException($"--in: '{outputs[target]}' and '{file}' would both be written as '{target}'; rename one.");
            }
        }

        return files;
    }

    private static string HashSources(string root, List<string> sources)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var source in sources)
        {
            hash.AppendData(Encoding.UTF8.GetBytes(source + "\n"));
            hash.AppendData(SHA256.HashData(File.ReadAllBytes(Path.Combine(root, source))));
        }

        return "sha256:" + Convert.ToHexStringLower(hash.GetHashAndReset());
    }
}

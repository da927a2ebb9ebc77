using System.Text.Json;
using System.Text.Json.Serialization;
using GanInference.Trainers.Models;
using static TorchSharp.torch;

namespace GanInference.Trainers.Training;

/// <summary>What a checkpoint folder says about itself (<c>checkpoint.json</c>).</summary>
public sealed record CheckpointInfo
{
    public required GanArchitecture Architecture { get; init; }
    public required int Epoch { get; init; }
    public required long Step { get; init; }
    public required ulong Seed { get; init; }
    public required double TrainingSeconds { get; init; }
    public required string Command { get; init; }
    public required string DataDirectory { get; init; }
    public required int TrainingImages { get; init; }
    public required int BatchSize { get; init; }

    /// <summary>Commands of the runs this one resumed, oldest first (the full provenance chain).</summary>
    public IReadOnlyList<string> EarlierCommands { get; init; } = [];

    /// <summary>Test-split accuracy, for classifier checkpoints.</summary>
    public double? TestAccuracy { get; init; }

    /// <summary>GAN runs with <c>--g-ema</c>: the decay of the averaged generator saved beside the online one (<see cref="Checkpoint.GeneratorEmaFileName"/>).</summary>
    public double? GeneratorEmaDecay { get; init; }

    /// <summary>GAN runs with <c>--g-ema</c>: the updates the average has had (fewer than <see cref="Step"/> when averaging began on a resume).</summary>
    public long? GeneratorEmaUpdates { get; init; }
}

/// <summary>
/// A checkpoint folder: <c>checkpoint.json</c> plus one TorchSharp state dict per network
/// (<c>generator.dat</c>, <c>discriminator.dat</c> or <c>classifier.dat</c>).
/// </summary>
public static class Checkpoint
{
    public const string InfoFileName = "checkpoint.json";
    public const string GeneratorFileName = "generator.dat";

    /// <summary>The exponential moving average of the generator's weights (<c>train --g-ema</c>; <c>export --ema</c> exports it).</summary>
    public const string GeneratorEmaFileName = "generator-ema.dat";
    public const string DiscriminatorFileName = "discriminator.dat";
    public const string ClassifierFileName = "classifier.dat";
    public const string GeneratorOptimizerFileName = "generator-adam.dat";
    public const string DiscriminatorOptimizerFileName = "discriminator-adam.dat";

    internal static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>Saves the epoch's checkpoint (<c>checkpoints/epoch-NNN</c>) and refreshes <c>latest</c>; returns the epoch folder.</summary>
    public static async Task<string> SaveEpochAsync(
        RunFolder run,
        CheckpointInfo info,
        IReadOnlyDictionary<string, nn.Module> networks,
        CancellationToken cancellationToken,
        IReadOnlyDictionary<string, TorchSharp.Modules.OptimizerHelper>? optimizers = null)
    {
        var folder = run.Checkpoint(info.Epoch);
        await SaveAsync(folder, info, networks, cancellationToken, optimizers).ConfigureAwait(false);
        await SaveAsync(run.LatestCheckpoint, info, networks, cancellationToken, optimizers).ConfigureAwait(false);
        return folder;
    }

    /// <summary>Writes into a sibling temp folder, then renames it, so a crash never leaves a half checkpoint.</summary>
    public static async Task SaveAsync(
        string directory,
        CheckpointInfo info,
        IReadOnlyDictionary<string, nn.Module> networks,
        CancellationToken cancellationToken,
        IReadOnlyDictionary<string, TorchSharp.Modules.OptimizerHelper>? optimizers = null)
    {
        var full = Path.GetFullPath(directory);
        var temp = full + ".partial";
        if (Directory.Exists(temp))
        {
            Directory.Delete(temp, recursive: true);
        }

        Directory.CreateDirectory(temp);
        foreach (var (fileName, network) in networks)
        {
            network.save(Path.Combine(temp, fileName));
        }

        foreach (var (fileName, optimizer) in optimizers ?? new Dictionary<string, TorchSharp.Modules.OptimizerHelper>())
        {
            optimizer.save_state_dict(Path.Combine(temp, fileName));
        }

        await File.WriteAllTextAsync(Path.Combine(temp, InfoFileName), JsonSerializer.Serialize(info, JsonOptions), cancellationToken).ConfigureAwait(false);
        if (Directory.Exists(full))
        {
            Directory.Delete(full, recursive: true);
        }

        Directory.Move(temp, full);
    }

    /// <summary>Reads <c>checkpoint.json</c>; errors name the file.</summary>
    public static async Task<CheckpointInfo> ReadInfoAsync(string directory, CancellationToken cancellationToken)
    {
        var path = Path.Combine(directory, InfoFileName);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"{path}: not a checkpoint folder (no {InfoFileName}).", path);
        }

        try
        {
            var text = await File.ReadAllTextAsync(path, cancellationToken).ConfigureAwait(false);
            var info = JsonSerializer.Deserialize<CheckpointInfo>(text, JsonOptions)
                ?? throw new InvalidDataException($"{path}: empty checkpoint description.");
            info.Architecture.Validate();
            return info;
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: invalid checkpoint description ({e.Message}).", e);
        }
    }

    /// <summary>Loads one network's weights from the folder into <paramref name="network"/>.</summary>
    public static void LoadWeights(string directory, string fileName, nn.Module network)
    {
        var path = Path.Combine(directory, fileName);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"{path}: checkpoint weights not found.", path);
        }

        network.load(path, strict: true);
    }

    /// <summary>
    /// Restores Adam's moments when the checkpoint has them; checkpoints written before optimizer
    /// state was saved resume with fresh moments (returns false).
    /// </summary>
    public static bool LoadOptimizerState(string directory, string fileName, TorchSharp.Modules.OptimizerHelper optimizer)
    {
        var path = Path.Combine(directory, fileName);
        if (!File.Exists(path))
        {
            return false;
        }

        optimizer.load_state_dict(path);
        return true;
    }
}

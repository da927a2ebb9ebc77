namespace GanInference.Core.Repository;

/// <summary>What a reload did to one model folder.</summary>
public enum ModelChangeKind
{
    /// <summary>A new folder's model is now served.</summary>
    Added,

    /// <summary>A changed folder's new model replaced the old one (in-flight requests finish on the old one).</summary>
    Replaced,

    /// <summary>The folder is gone; its model is no longer served and its session is released once idle.</summary>
    Removed,

    /// <summary>The folder could not be loaded; a model it used to hold (if any) keeps serving.</summary>
    Failed,
}

/// <summary>One folder's change in a reload.</summary>
/// <param name="Folder">The folder name (equal to the model name when valid).</param>
/// <param name="Kind">What happened.</param>
/// <param name="Reason">For <see cref="ModelChangeKind.Failed"/>: the error, naming the file and field.</param>
/// <param name="StillServing">For <see cref="ModelChangeKind.Failed"/>: true when the previous model of this folder keeps serving.</param>
public sealed record ModelChange(string Folder, ModelChangeKind Kind, string? Reason = null, bool StillServing = false);

/// <summary>The outcome of one scan of the repository folder: only folders that changed are listed.</summary>
/// <param name="Changes">Changed folders, in folder-name order.</param>
/// <param name="Models">Names of the models served after the reload.</param>
public sealed record ModelReloadReport(IReadOnlyList<ModelChange> Changes, IReadOnlyList<string> Models);

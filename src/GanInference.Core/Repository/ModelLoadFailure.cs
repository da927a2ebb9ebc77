namespace GanInference.Core.Repository;

/// <summary>A model folder that was skipped, and why.</summary>
/// <param name="Folder">The folder's name.</param>
/// <param name="Reason">The error, naming the file and field.</param>
public sealed record ModelLoadFailure(string Folder, string Reason);

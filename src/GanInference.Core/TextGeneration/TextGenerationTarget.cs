using GanInference.Core.Imaging;
using GanInference.Core.Models;
using GanInference.Core.Repository;
using GanInference.Core.Text;

namespace GanInference.Core.TextGeneration;

/// <summary>
/// What one <c>GenerateFromText</c> call runs, held for the whole call: a text-conditional model that takes no
/// image (one step), or a pipeline's steps. It holds a <see cref="ModelLease"/> on every step, so a hot reload
/// that replaces a step lets the call finish on the versions it started with. Dispose it when the call ends.
/// </summary>
public sealed class TextGenerationTarget : IDisposable
{
    private readonly ModelLease[] _leases;

    private TextGenerationTarget(string name, string contentHash, float defaultTruncation, ModelLease[] leases)
    {
        Name = name;
        ContentHash = contentHash;
        DefaultTruncation = defaultTruncation;
        _leases = leases;
        Steps = leases.Select(l => l.Model).ToArray();
    }

    /// <summary>The model or pipeline name asked for.</summary>
    public string Name { get; }

    /// <summary>The model's content hash, or the pipeline's (see <see cref="ServedPipeline.ContentHash"/>).</summary>
    public string ContentHash { get; }

    /// <summary>Truncation used when a request gives none.</summary>
    public float DefaultTruncation { get; }

    /// <summary>The models run, in order; one for a plain text-conditional model.</summary>
    public IReadOnlyList<ServedModel> Steps { get; }

    /// <summary>Vocabulary, token and embedding widths (shared by every step).</summary>
    public TextConditioning Text => Steps[0].Signature.Text!;

    /// <summary>Shape and range of the images delivered (the last step's).</summary>
    public ImageGeometry Geometry => Steps[^1].Geometry;

    /// <summary>The step without an <c>embedding</c> input, if any: then only texts can be sent.</summary>
    public ServedModel? StepWithoutEmbedding => Steps.FirstOrDefault(s => s.Signature.EmbeddingInput is null);

    internal static TextGenerationTarget ForModel(ServedModel model, ModelLease lease) =>
        new(model.Name, model.ContentHash, model.DefaultTruncation, [lease]);

    internal static TextGenerationTarget ForPipeline(ServedPipeline pipeline, ModelLease[] leases) =>
        new(pipeline.Name, pipeline.ContentHash, pipeline.DefaultTruncation, leases);

    /// <summary>Gives every lease back (once).</summary>
    public void Dispose()
    {
        foreach (var lease in _leases)
        {
            lease.Dispose();
        }
    }
}

using System.Security.Cryptography;
using System.Text;
using GanInference.Core.Errors;
using GanInference.Core.Imaging;
using GanInference.Core.Manifests;
using GanInference.Core.Models;
using GanInference.Core.Text;

namespace GanInference.Core.Repository;

/// <summary>
/// A pipeline bound to the step models of one repository snapshot (docs/text-to-image.md): the steps run in
/// order, each through its own batcher, the image output of one feeding the image input of the next. It owns
/// nothing: a reload that replaces a step binds the pipeline anew to the new version, and requests that hold
/// leases on the old steps finish on them.
/// </summary>
public sealed class ServedPipeline
{
    private ServedPipeline(PipelineDefinition definition, IReadOnlyList<ServedModel> steps)
    {
        Definition = definition;
        Steps = steps;
        ContentHash = HashOf(steps);
    }

    /// <summary>The pipeline's name in the API.</summary>
    public string Name => Definition.Name;

    /// <summary>The checked pipeline manifest.</summary>
    public PipelineDefinition Definition { get; }

    /// <summary>The manifest as read from <c>gan.json</c>.</summary>
    public ModelManifest Manifest => Definition.Manifest;

    /// <summary>The step models, first to last.</summary>
    public IReadOnlyList<ServedModel> Steps { get; }

    /// <summary>The text block every step shares.</summary>
    public TextConditioning Text => Steps[0].Signature.Text!;

    /// <summary>Shape and range of the images the pipeline produces (its last step's).</summary>
    public ImageGeometry Geometry => Steps[^1].Geometry;

    /// <summary>Truncation used when a request gives none: the pipeline's own <c>defaults.truncation</c>, else its first step's.</summary>
    public float DefaultTruncation => Manifest.Defaults?.Truncation ?? Steps[0].DefaultTruncation;

    /// <summary>
    /// <c>sha256:&lt;hex&gt;</c> of the UTF-8 lines <c>&lt;step name&gt; &lt;step content_hash&gt;</c>, one per step in
    /// order, joined by <c>\n</c>: names the exact weights behind every image, as a model's hash does.
    /// </summary>
    public string ContentHash { get; }

    /// <summary>The providers the steps run on, e.g. <c>cpu</c>.</summary>
    public string ExecutionProvider => string.Join(",", Steps.Select(s => s.ExecutionProvider).Distinct(StringComparer.Ordinal));

    /// <summary>
    /// Binds <paramref name="definition"/> to the loaded models, checking the rules of docs/text-to-image.md; throws
    /// <see cref="ModelLoadException"/> naming the step and the problem. Returns <paramref name="previous"/> when it
    /// is the same definition over the same step versions.
    /// </summary>
    /// <param name="definition">The pipeline manifest.</param>
    /// <param name="models">The models of the snapshot being published, by name.</param>
    /// <param name="failures">Why folders of this snapshot were skipped, by folder name (for the message).</param>
    /// <param name="previous">The pipeline of this name in the previous snapshot, if any.</param>
    internal static ServedPipeline Bind(
        PipelineDefinition definition,
        IReadOnlyDictionary<string, ServedModel> models,
        IReadOnlyDictionary<string, string> failures,
        ServedPipeline? previous)
    {
        var steps = new ServedModel[definition.Steps.Count];
        for (var i = 0; i < steps.Length; i++)
        {
            var name = definition.Steps[i];
            var at = $"pipeline.steps[{i}].model";
            if (!models.TryGetValue(name, out var step))
            {
                var why = failures.TryGetValue(name, out var reason) ? $"its folder was skipped: {reason}" : "no model folder of that name";
                throw Fail(at, $"'{name}' is not a loaded model ({why})");
            }

            var signature = step.Signature;
            if (!signature.IsTextConditional)
            {
                throw Fail(at, $"'{name}' is {signature.Kind.ToManifestName()}; pipeline steps must be text-conditional models");
            }

            if (i == 0)
            {
                if (signature.ImageInput is { } image)
                {
                    throw Fail(at, $"'{name}' takes an image input ('{image.Name}'); the first step has no previous step to take it from");
                }
            }
            else
            {
                var before = steps[i - 1];
                if (signature.ImageInput is not { } image)
                {
                    throw Fail(at, $"'{name}' has no 'image' input to take step {i - 1}'s output; every later step needs exactly one");
                }

                if (image.Geometry != before.Geometry)
                {
                    throw Fail(at, $"'{name}' input '{image.Name}' is {Describe(image.Geometry)}, but step {i - 1} ('{before.Name}') outputs {Describe(before.Geometry)}");
                }

                if (!signature.Text!.SameAs(steps[0].Signature.Text!))
                {
                    throw Fail(at, $"'{name}' has another text block than step 0 ('{steps[0].Name}'); vocabulary, maxTokens and embeddingDim must be equal");
                }
            }

            steps[i] = step;
        }

        if (previous is not null && ReferenceEquals(previous.Definition, definition) && previous.Steps.SequenceEqual(steps))
        {
            return previous;
        }

        return new ServedPipeline(definition, steps);
    }

    private static string Describe(ImageGeometry geometry) =>
        $"[-1, {geometry.Channels}, {geometry.Height}, {geometry.Width}] in [{geometry.Min}, {geometry.Max}]";

    private static string HashOf(IReadOnlyList<ServedModel> steps)
    {
        var lines = string.Join('\n', steps.Select(s => $"{s.Name} {s.ContentHash}"));
        return "sha256:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(lines)));
    }

    private static ModelLoadException Fail(string field, string problem) => new($"{ManifestReader.FileName}: {field}: {problem}");
}

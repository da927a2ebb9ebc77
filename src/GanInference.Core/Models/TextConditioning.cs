using GanInference.Core.Manifests;
using GanInference.Core.Text;

namespace GanInference.Core.Models;

/// <summary>
/// The <c>text</c> block of a text-conditional model, checked (docs/text-to-image.md): its vocabulary and
/// tokenizer, the width of the <c>tokens</c> input and of the <c>embedding</c> input.
/// </summary>
public sealed class TextConditioning
{
    /// <summary>Builds the conditioning of a manifest whose text block passed <see cref="ManifestReader"/>'s checks.</summary>
    public TextConditioning(TextManifest text)
    {
        ArgumentNullException.ThrowIfNull(text);
        MaxTokens = text.MaxTokens ?? throw new ArgumentException("text.maxTokens is missing", nameof(text));
        EmbeddingDim = text.EmbeddingDim ?? throw new ArgumentException("text.embeddingDim is missing", nameof(text));
        Tokenizer = new TextTokenizer(text.Vocabulary ?? throw new ArgumentException("text.vocabulary is missing", nameof(text)), MaxTokens);
    }

    /// <summary>The words, by token id (entry 0 is <c>&lt;pad&gt;</c>).</summary>
    public IReadOnlyList<string> Vocabulary => Tokenizer.Vocabulary;

    /// <summary>Width of the tokens input: the most words one text may have.</summary>
    public int MaxTokens { get; }

    /// <summary>Width of the embedding input.</summary>
    public int EmbeddingDim { get; }

    /// <summary>Text → token row.</summary>
    public TextTokenizer Tokenizer { get; }

    /// <summary>True when both blocks tokenize every text alike and take embeddings of the same width.</summary>
    public bool SameAs(TextConditioning other)
    {
        ArgumentNullException.ThrowIfNull(other);
        return MaxTokens == other.MaxTokens && EmbeddingDim == other.EmbeddingDim && Vocabulary.SequenceEqual(other.Vocabulary, StringComparer.Ordinal);
    }
}

using GanInference.Core.Errors;
using GanInference.Core.Limits;
using GanInference.Core.Models;
using GanInference.Core.Runtime;
using GanInference.Core.Text;

namespace GanInference.Core.TextGeneration;

/// <summary>
/// A checked text-to-image request: its rows (texts, tokenized once, or embedding rows), how many images each row
/// gets, and lazily per image index its seed and row. Images are numbered text-major: image j belongs to row
/// j / count and uses seed + j (or seeds[j]).
/// </summary>
public sealed class TextGenerationPlan
{
    private readonly ulong _firstSeed;
    private readonly IReadOnlyList<ulong> _seeds;
    private readonly long[]? _tokens;
    private readonly int _maxTokens;
    private readonly ReadOnlyMemory<float> _embeddings;
    private readonly int _embeddingDim;

    private TextGenerationPlan(int rows, int countPerRow, ulong firstSeed, IReadOnlyList<ulong> seeds, float truncation, long[]? tokens, int maxTokens, ReadOnlyMemory<float> embeddings, int embeddingDim)
    {
        Rows = rows;
        CountPerRow = countPerRow;
        _firstSeed = firstSeed;
        _seeds = seeds;
        Truncation = truncation;
        _tokens = tokens;
        _maxTokens = maxTokens;
        _embeddings = embeddings;
        _embeddingDim = embeddingDim;
    }

    /// <summary>Texts or embedding rows.</summary>
    public int Rows { get; }

    /// <summary>Images per row.</summary>
    public int CountPerRow { get; }

    /// <summary>Number of images.</summary>
    public int Count => Rows * CountPerRow;

    /// <summary>Effective truncation (the request's, or the model's default).</summary>
    public float Truncation { get; }

    /// <summary>
    /// Checks <paramref name="spec"/> against the target's text block and the limits; throws
    /// <see cref="InvalidFieldException"/> naming the field (<c>texts[2]</c>, <c>embeddings</c>, <c>seeds</c>, ...) and
    /// the allowed range.
    /// </summary>
    public static TextGenerationPlan Create(TextGenerationTarget target, TextGenerationSpec spec, TextRequestLimits limits)
    {
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(limits);
        var text = target.Text;
        if (spec.Texts.Count > 0 && !spec.Embeddings.IsEmpty)
        {
            throw new InvalidFieldException("texts", "texts and embeddings are exclusive: give one or the other");
        }

        if (spec.Texts.Count == 0 && spec.Embeddings.IsEmpty)
        {
            throw new InvalidFieldException("texts", $"give at least one text (or embeddings: rows of embedding_dim {text.EmbeddingDim})");
        }

        if (spec.Count < 0)
        {
            throw new InvalidFieldException("count", $"{spec.Count} must not be negative");
        }

        long[]? tokens = null;
        int rows;
        if (spec.Texts.Count > 0)
        {
            rows = spec.Texts.Count;
            RequestLimits.CheckAtMost("texts", rows, limits.MaxTexts, limits.MaxTextsKey, "texts");
            tokens = Tokenize(target.Name, text, spec.Texts, limits);
        }
        else
        {
            rows = EmbeddingRows(target, spec.Embeddings, limits);
        }

        var countPerRow = ImagesPerRow(spec, rows, tokens is not null ? "texts" : "embedding rows");
        RequestLimits.CheckAtMost("count", (long)rows * countPerRow, limits.MaxImages, limits.MaxImagesKey, "images");
        var truncation = GenerationRules.ResolveTruncation(spec.Truncation, target.DefaultTruncation);
        var firstSeed = spec.Seed ?? GenerationRules.RandomSeed();
        return new TextGenerationPlan(rows, countPerRow, firstSeed, spec.Seeds, truncation, tokens, text.MaxTokens, spec.Embeddings, text.EmbeddingDim);
    }

    /// <summary>The seed of image <paramref name="index"/>.</summary>
    public ulong SeedAt(int index) => _seeds.Count > 0 ? _seeds[index] : unchecked(_firstSeed + (ulong)index);

    /// <summary>The text (or embedding row) image <paramref name="index"/> belongs to.</summary>
    public int RowAt(int index) => index / CountPerRow;

    /// <summary>
    /// The inputs of image <paramref name="index"/> for a step whose latent and noise start
    /// <paramref name="streamOffset"/> values into the seed's stream: token ids for a text (the embedding left to
    /// zeros), or the embedding row (tokens left all padding, so the graph takes the embedding).
    /// </summary>
    public GenerationItem ItemAt(int index, int streamOffset)
    {
        var row = RowAt(index);
        var item = GenerationItem.FromSeed(SeedAt(index), Truncation) with { StreamOffset = streamOffset };
        return _tokens is not null
            ? item with { Tokens = _tokens.AsMemory(row * _maxTokens, _maxTokens) }
            : item with { Embedding = _embeddings.Slice(row * _embeddingDim, _embeddingDim) };
    }

    private static long[] Tokenize(string model, TextConditioning text, IReadOnlyList<string> texts, TextRequestLimits limits)
    {
        var tokens = new long[texts.Count * text.MaxTokens];
        for (var i = 0; i < texts.Count; i++)
        {
            var field = $"texts[{i}]";
            var caption = texts[i] ?? string.Empty;
            RequestLimits.CheckText(field, caption, limits.MaxTextLength, limits.MaxTextLengthKey);
            var result = text.Tokenizer.Tokenize(caption, tokens.AsSpan(i * text.MaxTokens, text.MaxTokens));
            switch (result.Status)
            {
                case TokenizeStatus.NoWords:
                    throw new InvalidFieldException(field, $"has no words (words are runs of a-z and 0-9); give 1..{text.MaxTokens} words");
                case TokenizeStatus.TooManyWords:
                    throw new InvalidFieldException(field, $"{result.WordCount} words is over the limit of {text.MaxTokens} (max_text_tokens of model '{model}')");
                case TokenizeStatus.UnknownWords:
                    throw new InvalidFieldException(field, $"unknown {(result.UnknownWords.Count == 1 ? "word" : "words")} {string.Join(", ", result.UnknownWords.Select(w => $"'{Shorten(w)}'"))}: not in the vocabulary of model '{model}' (GetModel lists it)");
            }
        }

        return tokens;
    }

    private static int EmbeddingRows(TextGenerationTarget target, ReadOnlyMemory<float> embeddings, TextRequestLimits limits)
    {
        var dim = target.Text.EmbeddingDim;
        if (target.StepWithoutEmbedding is { } step)
        {
            throw new InvalidFieldException("embeddings", $"model '{step.Name}' has no 'embedding' input; send texts");
        }

        if (embeddings.Length % dim != 0)
        {
            throw new InvalidFieldException("embeddings", $"length {embeddings.Length} is not a multiple of embedding_dim {dim}");
        }

        var rows = embeddings.Length / dim;
        RequestLimits.CheckAtMost("embeddings", rows, limits.MaxTexts, limits.MaxTextsKey, "rows");
        var span = embeddings.Span;
        for (var i = 0; i < span.Length; i++)
        {
            if (!float.IsFinite(span[i]))
            {
                throw new InvalidFieldException($"embeddings[{i}]", $"{span[i]} is not a finite number");
            }
        }

        return rows;
    }

    private static int ImagesPerRow(TextGenerationSpec spec, int rows, string noun)
    {
        var seeds = spec.Seeds.Count;
        if (seeds == 0)
        {
            return spec.Count == 0 ? 1 : spec.Count;
        }

        if (spec.Count == 0)
        {
            if (seeds % rows != 0)
            {
                throw new InvalidFieldException("seeds", $"{seeds} values do not split evenly over {rows} {noun}; give one seed per image ({rows} {noun} × count)");
            }

            return seeds / rows;
        }

        if ((long)rows * spec.Count != seeds)
        {
            throw new InvalidFieldException("seeds", $"expected {(long)rows * spec.Count} values (one per image: {rows} {noun} × count {spec.Count}), got {seeds}");
        }

        return spec.Count;
    }

    // An unknown "word" can be a whole over-long run of characters; the message stays readable.
    private static string Shorten(string word) => word.Length <= 40 ? word : $"{word[..40]}...";
}

using System.Buffers;
using System.Collections.Frozen;

namespace GanInference.Core.Text;

/// <summary>
/// The tokenizer of docs/text-to-image.md: lower-case the text (invariant culture), split it into words =
/// maximal runs of <c>[a-z0-9]</c> (every other character separates words and is dropped), map each word to
/// its index in the vocabulary, and write the ids left-aligned into a row of <see cref="MaxTokens"/> values
/// padded with 0. It allocates nothing on success (words are looked up as spans); only a refused text
/// allocates, to name its unknown words.
/// </summary>
/// <remarks>Thread-safe: the vocabulary is immutable.</remarks>
public sealed class TextTokenizer
{
    /// <summary>Vocabulary entry 0: padding, never produced from text.</summary>
    public const string PadToken = "<pad>";

    // Texts up to this length are lower-cased on the stack.
    private const int StackLimit = 256;

    private readonly FrozenDictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _ids;

    /// <summary>Builds the tokenizer; the vocabulary must already be checked (entry 0 <c>&lt;pad&gt;</c>, unique words).</summary>
    /// <param name="vocabulary">Token id = index.</param>
    /// <param name="maxTokens">Row width: the most words one text may have.</param>
    public TextTokenizer(IReadOnlyList<string> vocabulary, int maxTokens)
    {
        ArgumentNullException.ThrowIfNull(vocabulary);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxTokens, 1);
        Vocabulary = vocabulary;
        MaxTokens = maxTokens;
        _ids = Enumerable.Range(1, vocabulary.Count - 1)
            .ToFrozenDictionary(i => vocabulary[i], i => i, StringComparer.Ordinal)
            .GetAlternateLookup<ReadOnlySpan<char>>();
    }

    /// <summary>The words, by token id (entry 0 is <see cref="PadToken"/>).</summary>
    public IReadOnlyList<string> Vocabulary { get; }

    /// <summary>Row width: the most words one text may have.</summary>
    public int MaxTokens { get; }

    /// <summary>True for the characters words are made of: <c>a-z</c> and <c>0-9</c>.</summary>
    public static bool IsWordChar(char c) => c is (>= 'a' and <= 'z') or (>= '0' and <= '9');

    /// <summary>True for a non-empty run of word characters (a valid vocabulary entry).</summary>
    public static bool IsWord(string? word)
    {
        if (string.IsNullOrEmpty(word))
        {
            return false;
        }

        foreach (var c in word)
        {
            if (!IsWordChar(c))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Tokenizes <paramref name="text"/> into <paramref name="tokens"/>.</summary>
    /// <param name="text">The caption.</param>
    /// <param name="tokens">
    /// A row of <see cref="MaxTokens"/> values: on success the ids, left-aligned, then zeros. Unspecified when the
    /// text is refused.
    /// </param>
    /// <returns>Success with the word count, or why the text cannot be tokenized (every unknown word, in order, once).</returns>
    public TokenizeResult Tokenize(ReadOnlySpan<char> text, Span<long> tokens)
    {
        if (tokens.Length != MaxTokens)
        {
            throw new ArgumentException($"the token row holds {tokens.Length} values, expected {MaxTokens}", nameof(tokens));
        }

        tokens.Clear();
        char[]? rented = null;
        Span<char> lower = text.Length <= StackLimit ? stackalloc char[StackLimit] : (rented = ArrayPool<char>.Shared.Rent(text.Length));
        try
        {
            lower = lower[..text.Length];
            text.ToLowerInvariant(lower);
            var words = 0;
            List<string>? unknown = null;
            var i = 0;
            while (i < lower.Length)
            {
                if (!IsWordChar(lower[i]))
                {
                    i++;
                    continue;
                }

                var start = i;
                while (i < lower.Length && IsWordChar(lower[i]))
                {
                    i++;
                }

                // Past the row only the count matters: the text is refused for its length.
                if (words < MaxTokens)
                {
                    var word = lower[start..i];
                    if (_ids.TryGetValue(word, out var id))
                    {
                        tokens[words] = id;
                    }
                    else
                    {
                        unknown ??= [];
                        var name = new string(word);
                        if (!unknown.Contains(name))
                        {
                            unknown.Add(name);
                        }
                    }
                }

                words++;
            }

            return words switch
            {
                0 => new TokenizeResult(TokenizeStatus.NoWords, 0, []),
                _ when words > MaxTokens => new TokenizeResult(TokenizeStatus.TooManyWords, words, []),
                _ when unknown is not null => new TokenizeResult(TokenizeStatus.UnknownWords, words, unknown),
                _ => new TokenizeResult(TokenizeStatus.Ok, words, []),
            };
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<char>.Shared.Return(rented);
            }
        }
    }
}

/// <summary>Whether a text could be tokenized.</summary>
public enum TokenizeStatus
{
    /// <summary>Every word is in the vocabulary and there are 1..maxTokens of them.</summary>
    Ok,

    /// <summary>The text has no word (empty, white space or punctuation only).</summary>
    NoWords,

    /// <summary>The text has more than maxTokens words.</summary>
    TooManyWords,

    /// <summary>Some words are not in the vocabulary.</summary>
    UnknownWords,
}

/// <summary>The outcome of <see cref="TextTokenizer.Tokenize"/>.</summary>
/// <param name="Status">Success or the reason for refusal.</param>
/// <param name="WordCount">Words found in the text (all of them, also past maxTokens).</param>
/// <param name="UnknownWords">For <see cref="TokenizeStatus.UnknownWords"/>: each unknown word once, lower-cased, in order.</param>
public readonly record struct TokenizeResult(TokenizeStatus Status, int WordCount, IReadOnlyList<string> UnknownWords);

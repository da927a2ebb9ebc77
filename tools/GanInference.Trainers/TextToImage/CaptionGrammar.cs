using System.Text;

namespace GanInference.Trainers.TextToImage;

/// <summary>What one captioned colour digit shows; indices into <see cref="CaptionGrammar"/>'s word lists.</summary>
public readonly record struct DigitAttributes(int Digit, int Colour, int Background, int Thickness)
{
    /// <summary>Stroke and background may not be the same colour (white on white is the only such pair).</summary>
    public bool IsValid =>
        Digit is >= 0 and <= 9
        && (uint)Colour < CaptionGrammar.Colours.Count
        && (uint)Background < CaptionGrammar.Backgrounds.Count
        && (uint)Thickness < CaptionGrammar.Thicknesses.Count
        && CaptionGrammar.Colours[Colour].Name != CaptionGrammar.Backgrounds[Background].Name;

    /// <summary>
    /// The held-out combinations (docs/text-to-image.md): (digit + 2·colour + 3·background + 5·thickness) mod 10 = 3.
    /// Every (colour, background, thickness) triple is held out with exactly one digit, so each is
    /// still seen in training with the other nine digits.
    /// </summary>
    public bool IsHeldOut => (Digit + (2 * Colour) + (3 * Background) + (5 * Thickness)) % 10 == 3;

    public override string ToString() =>
        $"{CaptionGrammar.Thicknesses[Thickness]} {CaptionGrammar.Colours[Colour].Name} {Digit} on {CaptionGrammar.Backgrounds[Background].Name}";
}

/// <summary>A named colour, RGB in [0, 1].</summary>
public sealed record NamedColour(string Name, float R, float G, float B);

/// <summary>
/// The caption grammar of the captioned colour digits (written down in docs/text-to-image.md): seven
/// templates that vary wording and order, digits as words or numerals, "gray"/"grey", thickness
/// sometimes left out. Captions are a pure function of the attributes and a random source.
/// </summary>
public static class CaptionGrammar
{
    public static readonly IReadOnlyList<NamedColour> Colours =
    [
        new("red", 1f, 0f, 0f), new("green", 0f, 1f, 0f), new("blue", 0f, 0f, 1f), new("yellow", 1f, 1f, 0f),
        new("cyan", 0f, 1f, 1f), new("magenta", 1f, 0f, 1f), new("white", 1f, 1f, 1f),
    ];

    public static readonly IReadOnlyList<NamedColour> Backgrounds =
    [
        new("black", 0f, 0f, 0f), new("white", 1f, 1f, 1f), new("gray", 0.5f, 0.5f, 0.5f),
    ];

    public static readonly IReadOnlyList<string> Thicknesses = ["thin", "regular", "thick"];

    public static readonly IReadOnlyList<string> DigitWords = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"];

    /// <summary>
    /// The templates: {T} thickness word (may be empty), {C} colour, {D} digit, {B} background;
    /// "a" becomes "an" before a vowel sound.
    /// </summary>
    public static readonly IReadOnlyList<string> Templates =
    [
        "a {T} {C} {D} on a {B} background",
        "{T} {C} {D} on {B}",
        "a {D} drawn in {T} {C} strokes on {B}",
        "{T} {C} {D}, {B} background",
        "the digit {D} in {T} {C} on a {B} background",
        "on a {B} background, a {T} {C} {D}",
        "{B} background with a {T} {C} {D}",
    ];

    /// <summary>Longest caption in words (the template with the most words, thickness included).</summary>
    public const int MaxWords = 10;

    /// <summary>Token rows are this long; id 0 pads.</summary>
    public const int MaxTokens = 16;

    /// <summary>Every word the grammar can produce, sorted, after "&lt;pad&gt;" (id 0).</summary>
    public static readonly IReadOnlyList<string> Vocabulary = BuildVocabulary();

    private static readonly Dictionary<string, int> Ids = Vocabulary.Select((word, id) => (word, id)).ToDictionary(p => p.word, p => p.id);

    /// <summary>
    /// A caption for <paramref name="attributes"/>. <paramref name="template"/> picks the wording,
    /// <paramref name="numeral"/> writes the digit as "7" instead of "seven", <paramref name="withThickness"/>
    /// keeps the thickness word, <paramref name="grey"/> spells gray "grey".
    /// </summary>
    public static string Caption(DigitAttributes attributes, int template, bool numeral, bool withThickness, bool grey = false)
    {
        var background = Backgrounds[attributes.Background].Name;
        var text = Templates[template]
            .Replace("{T}", withThickness ? Thicknesses[attributes.Thickness] : string.Empty, StringComparison.Ordinal)
            .Replace("{C}", Colours[attributes.Colour].Name, StringComparison.Ordinal)
            .Replace("{D}", numeral ? attributes.Digit.ToString(System.Globalization.CultureInfo.InvariantCulture) : DigitWords[attributes.Digit], StringComparison.Ordinal)
            .Replace("{B}", grey && background == "gray" ? "grey" : background, StringComparison.Ordinal);
        var words = text.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var builder = new StringBuilder(text.Length);
        for (var i = 0; i < words.Length; i++)
        {
            var word = words[i];
            if (word == "a" && i + 1 < words.Length && StartsWithVowelSound(words[i + 1]))
            {
                word = "an";
            }

            builder.Append(i == 0 ? string.Empty : " ").Append(word);
        }

        return builder.ToString();
    }

    /// <summary>A random caption for the attributes: any template, numeral half the time, thickness three times in four.</summary>
    public static string RandomCaption(DigitAttributes attributes, Random random) =>
        Caption(attributes, random.Next(Templates.Count), random.Next(2) == 0, random.Next(4) != 0, random.Next(2) == 0);

    /// <summary>
    /// Token ids, left-aligned in a row of <see cref="MaxTokens"/>, padded with 0: lower-case, words are
    /// maximal runs of [a-z0-9], each looked up exactly (the server's tokenizer does the same).
    /// </summary>
    public static long[] Tokenize(string text)
    {
        var row = new long[MaxTokens];
        var count = 0;
        var lower = text.ToLowerInvariant();
        var start = -1;
        for (var i = 0; i <= lower.Length; i++)
        {
            var inWord = i < lower.Length && (lower[i] is >= 'a' and <= 'z' || lower[i] is >= '0' and <= '9');
            if (inWord && start < 0)
            {
                start = i;
            }
            else if (!inWord && start >= 0)
            {
                var word = lower[start..i];
                if (!Ids.TryGetValue(word, out var id))
                {
                    throw new ArgumentException($"'{word}' is not in the vocabulary.", nameof(text));
                }

                if (count == MaxTokens)
                {
                    throw new ArgumentException($"more than {MaxTokens} words.", nameof(text));
                }

                row[count++] = id;
                start = -1;
            }
        }

        return count == 0 ? throw new ArgumentException("no words.", nameof(text)) : row;
    }

    /// <summary>Every valid combination, held out or not.</summary>
    public static IEnumerable<DigitAttributes> AllCombinations()
    {
        for (var digit = 0; digit < 10; digit++)
        {
            for (var colour = 0; colour < Colours.Count; colour++)
            {
                for (var background = 0; background < Backgrounds.Count; background++)
                {
                    for (var thickness = 0; thickness < Thicknesses.Count; thickness++)
                    {
                        var attributes = new DigitAttributes(digit, colour, background, thickness);
                        if (attributes.IsValid)
                        {
                            yield return attributes;
                        }
                    }
                }
            }
        }
    }

    /// <summary>A random training combination (never a held-out one).</summary>
    public static DigitAttributes RandomTrainingAttributes(int digit, Random random)
    {
        while (true)
        {
            var attributes = new DigitAttributes(digit, random.Next(Colours.Count), random.Next(Backgrounds.Count), random.Next(Thicknesses.Count));
            if (attributes.IsValid && !attributes.IsHeldOut)
            {
                return attributes;
            }
        }
    }

    private static bool StartsWithVowelSound(string word) => word is "eight" or "8" || "aeiou".Contains(word[0], StringComparison.Ordinal);

    private static List<string> BuildVocabulary()
    {
        var words = new SortedSet<string>(StringComparer.Ordinal) { "grey", "an" };
        foreach (var template in Templates)
        {
            foreach (var word in template.Split([' ', ','], StringSplitOptions.RemoveEmptyEntries).Where(w => !w.StartsWith('{')))
            {
                words.Add(word);
            }
        }

        words.UnionWith(Colours.Select(c => c.Name));
        words.UnionWith(Backgrounds.Select(c => c.Name));
        words.UnionWith(Thicknesses);
        words.UnionWith(DigitWords);
        words.UnionWith(Enumerable.Range(0, 10).Select(d => d.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        return ["<pad>", .. words];
    }
}

using GanInference.Trainers.Data;
using static TorchSharp.torch;

namespace GanInference.Trainers.TextToImage;

/// <summary>One training batch of captioned colour digits.</summary>
public sealed class CaptionBatch : IDisposable
{
    public required Tensor Large { get; init; }       // [B, 3, 64, 64] in [-1, 1]
    public required Tensor Small { get; init; }       // [B, 3, 32, 32] in [-1, 1]
    public required Tensor Tokens { get; init; }      // [B, T] int64
    public required Tensor WrongTokens { get; init; } // [B, T]: captions of other attributes (matching-aware D)
    public required Tensor Digits { get; init; }      // [B] int64
    public required Tensor Colours { get; init; }     // [B] int64, index into CaptionGrammar.Colours
    public required Tensor Backgrounds { get; init; } // [B] int64, index into CaptionGrammar.Backgrounds
    public required Tensor Thicknesses { get; init; } // [B] int64: the image's thickness (always known for a render)
    public required Tensor StatedThicknesses { get; init; } // [B] int64: the caption's thickness, 3 = not said

    public void Dispose()
    {
        Thicknesses.Dispose();
        StatedThicknesses.Dispose();
        Large.Dispose();
        Small.Dispose();
        Tokens.Dispose();
        WrongTokens.Dispose();
        Digits.Dispose();
        Colours.Dispose();
        Backgrounds.Dispose();
    }
}

/// <summary>
/// Draws batches from the MNIST training digits: each digit gets fresh random training attributes
/// (never a held-out combination) and a random caption on every draw, plus a caption of different
/// attributes for the mismatched-text term: another digit, colour or background, or, for a share
/// <paramref name="thicknessNegatives"/> of the draws, the same digit, colour and background in another
/// thickness, which that caption then always states (0, the shipped recipe: never, and the draws are
/// exactly those of the code before the option existed).
/// </summary>
public sealed class CaptionBatches(MnistDataset data, ulong seed, double thicknessNegatives = 0)
{
    private readonly Random random = new(unchecked((int)seed ^ (int)(seed >> 32)));

    public int Count => data.Count;

    public CaptionBatch Next(ReadOnlySpan<long> indices)
    {
        var b = indices.Length;
        const int largeLength = CaptionedDigits.Channels * CaptionedDigits.LargeSize * CaptionedDigits.LargeSize;
        const int smallLength = CaptionedDigits.Channels * CaptionedDigits.SmallSize * CaptionedDigits.SmallSize;
        var large = new float[b * largeLength];
        var small = new float[b * smallLength];
        var tokens = new long[b * CaptionGrammar.MaxTokens];
        var wrong = new long[b * CaptionGrammar.MaxTokens];
        var digits = new long[b];
        var colours = new long[b];
        var backgrounds = new long[b];
        var thicknesses = new long[b];
        var stated = new long[b];
        Span<float> grey = stackalloc float[MnistDataset.ImageSize * MnistDataset.ImageSize];
        for (var i = 0; i < b; i++)
        {
            var index = (int)indices[i];
            var digit = data.Labels[index];
            var attributes = CaptionGrammar.RandomTrainingAttributes(digit, random);
            CaptionedDigits.Grey(data, index, grey);
            CaptionedDigits.Render(grey, attributes, large.AsSpan(i * largeLength, largeLength), small.AsSpan(i * smallLength, smallLength));
            // The draws of CaptionGrammar.RandomCaption, in its order, keeping whether the thickness is said.
            var template = random.Next(CaptionGrammar.Templates.Count);
            var numeral = random.Next(2) == 0;
            var withThickness = random.Next(4) != 0;
            var caption = CaptionGrammar.Caption(attributes, template, numeral, withThickness, random.Next(2) == 0);
            CaptionGrammar.Tokenize(caption).CopyTo(tokens.AsSpan(i * CaptionGrammar.MaxTokens));
            CaptionGrammar.Tokenize(WrongCaption(attributes).Caption).CopyTo(wrong.AsSpan(i * CaptionGrammar.MaxTokens));
            digits[i] = digit;
            colours[i] = attributes.Colour;
            backgrounds[i] = attributes.Background;
            thicknesses[i] = attributes.Thickness;
            stated[i] = withThickness ? attributes.Thickness : CaptionGrammar.Thicknesses.Count;
        }

        for (var i = 0; i < large.Length; i++)
        {
            large[i] = (large[i] * 2f) - 1f;
        }

        for (var i = 0; i < small.Length; i++)
        {
            small[i] = (small[i] * 2f) - 1f;
        }

        return new CaptionBatch
        {
            Large = tensor(large, [b, 3, CaptionedDigits.LargeSize, CaptionedDigits.LargeSize]),
            Small = tensor(small, [b, 3, CaptionedDigits.SmallSize, CaptionedDigits.SmallSize]),
            Tokens = tensor(tokens, [b, CaptionGrammar.MaxTokens]),
            WrongTokens = tensor(wrong, [b, CaptionGrammar.MaxTokens]),
            Digits = tensor(digits, [b]),
            Colours = tensor(colours, [b]),
            Backgrounds = tensor(backgrounds, [b]),
            Thicknesses = tensor(thicknesses, [b]),
            StatedThicknesses = tensor(stated, [b]),
        };
    }

    /// <summary>
    /// A caption that does not describe an image of <paramref name="attributes"/>: the attributes it describes, whether
    /// it states their thickness, and its text. With probability <c>thicknessNegatives</c> it differs only in thickness
    /// (another thickness whose combination is a training one, when there is one; it always says the thickness); otherwise in digit, colour
    /// or background (its thickness said three times in four, as any caption).
    /// </summary>
    internal (DigitAttributes Attributes, bool ThicknessSaid, string Caption) WrongCaption(DigitAttributes attributes)
    {
        if (thicknessNegatives > 0 && random.NextDouble() < thicknessNegatives)
        {
            // Thin and thick share their held-out status ((5 · thickness) mod 10 is 0 for both): a thin or thick image
            // always has a training combination in the other of the two; a regular one may have none (both held out),
            // and then gets an ordinary mismatch, since held-out combinations never appear in training, not even as negatives.
            var step = 1 + random.Next(2);
            var other = attributes with { Thickness = (attributes.Thickness + step) % CaptionGrammar.Thicknesses.Count };
            if (other.IsHeldOut)
            {
                other = attributes with { Thickness = (attributes.Thickness + 3 - step) % CaptionGrammar.Thicknesses.Count };
            }

            if (!other.IsHeldOut)
            {
                var text = CaptionGrammar.Caption(other, random.Next(CaptionGrammar.Templates.Count), random.Next(2) == 0, withThickness: true, random.Next(2) == 0);
                return (other, true, text);
            }
        }

        var different = Mismatch(attributes);
        var template = random.Next(CaptionGrammar.Templates.Count);
        var numeral = random.Next(2) == 0;
        var said = random.Next(4) != 0;
        return (different, said, CaptionGrammar.Caption(different, template, numeral, said, random.Next(2) == 0));
    }

    /// <summary>Attributes that differ from <paramref name="attributes"/> in digit, colour or background.</summary>
    private DigitAttributes Mismatch(DigitAttributes attributes)
    {
        while (true)
        {
            var other = CaptionGrammar.RandomTrainingAttributes(random.Next(10), random);
            if (other.Digit != attributes.Digit || other.Colour != attributes.Colour || other.Background != attributes.Background)
            {
                return other;
            }
        }
    }

    /// <summary>A random caption batch for pre-training the text encoder: tokens and the attribute targets (thickness 3 = not said).</summary>
    public (Tensor Tokens, Tensor Digit, Tensor Colour, Tensor Background, Tensor Thickness) NextCaptions(int count)
    {
        var tokens = new long[count * CaptionGrammar.MaxTokens];
        var digit = new long[count];
        var colour = new long[count];
        var background = new long[count];
        var thickness = new long[count];
        for (var i = 0; i < count; i++)
        {
            var attributes = CaptionGrammar.RandomTrainingAttributes(random.Next(10), random);
            var withThickness = random.Next(4) != 0;
            var caption = CaptionGrammar.Caption(attributes, random.Next(CaptionGrammar.Templates.Count), random.Next(2) == 0, withThickness, random.Next(2) == 0);
            CaptionGrammar.Tokenize(caption).CopyTo(tokens.AsSpan(i * CaptionGrammar.MaxTokens));
            digit[i] = attributes.Digit;
            colour[i] = attributes.Colour;
            background[i] = attributes.Background;
            thickness[i] = withThickness ? attributes.Thickness : 3;
        }

        return (tensor(tokens, [count, CaptionGrammar.MaxTokens]), tensor(digit), tensor(colour), tensor(background), tensor(thickness));
    }
}

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

    public void Dispose()
    {
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
/// attributes (another digit, colour or background) for the mismatched-text term.
/// </summary>
public sealed class CaptionBatches(MnistDataset data, ulong seed)
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
        Span<float> grey = stackalloc float[MnistDataset.ImageSize * MnistDataset.ImageSize];
        for (var i = 0; i < b; i++)
        {
            var index = (int)indices[i];
            var digit = data.Labels[index];
            var attributes = CaptionGrammar.RandomTrainingAttributes(digit, random);
            CaptionedDigits.Grey(data, index, grey);
            CaptionedDigits.Render(grey, attributes, large.AsSpan(i * largeLength, largeLength), small.AsSpan(i * smallLength, smallLength));
            CaptionGrammar.Tokenize(CaptionGrammar.RandomCaption(attributes, random)).CopyTo(tokens.AsSpan(i * CaptionGrammar.MaxTokens));
            CaptionGrammar.Tokenize(CaptionGrammar.RandomCaption(Mismatch(attributes), random)).CopyTo(wrong.AsSpan(i * CaptionGrammar.MaxTokens));
            digits[i] = digit;
            colours[i] = attributes.Colour;
            backgrounds[i] = attributes.Background;
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
        };
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

using GanInference.Core.Sampling;
using SkiaSharp;
using static TorchSharp.torch;

namespace GanInference.Trainers.TextToImage;

/// <summary>The random inputs of a seed, drawn as the server draws them: z, then Stage-I's ε, then Stage-II's ε (docs/determinism.md).</summary>
public static class StackGanNoise
{
    public static (float[] Z, float[] StageOne, float[] StageTwo) Draw(IReadOnlyList<ulong> seeds, StackGanArchitecture networks, float truncation = 0f)
    {
        var z = new float[seeds.Count * networks.LatentDimension];
        var one = new float[seeds.Count * networks.ConditionDimension];
        var two = new float[seeds.Count * networks.ConditionDimension];
        for (var i = 0; i < seeds.Count; i++)
        {
            var stream = new LatentSampler.NormalSequence(seeds[i], truncation);
            stream.Fill(z.AsSpan(i * networks.LatentDimension, networks.LatentDimension));
            stream.Fill(one.AsSpan(i * networks.ConditionDimension, networks.ConditionDimension));
            stream.Fill(two.AsSpan(i * networks.ConditionDimension, networks.ConditionDimension));
        }

        return (z, one, two);
    }
}

/// <summary>Sample sheets: RGB images in a grid with the caption under each.</summary>
public static class StackGanSamples
{
    /// <summary>Captions of the per-epoch training grid: every digit, in varied colours and wordings.</summary>
    public static readonly IReadOnlyList<string> GridCaptions =
    [
        "a thick red zero on a black background", "green 1 on white", "a two drawn in thin blue strokes on gray",
        "regular yellow three, black background", "the digit 4 in thick cyan on a gray background",
        "on a white background, a thin magenta five", "black background with a regular white six",
        "a thick blue seven on a white background", "red 8 on gray", "a nine drawn in regular green strokes on black",
    ];

    /// <summary>A 10 × 4 grid of the training captions (four seeds each) from the networks in eval mode.</summary>
    public static byte[] TrainingGrid(StageOneGenerator stageOne, StageTwoGenerator? stageTwo)
    {
        const int seedsPerCaption = 4;
        var captions = GridCaptions.SelectMany(c => Enumerable.Repeat(c, seedsPerCaption)).ToArray();
        var seeds = Enumerable.Range(0, captions.Length).Select(i => (ulong)(i % seedsPerCaption)).ToArray();
        var (small, large) = Generate(stageOne, stageTwo, captions, seeds);
        var pixels = large ?? small;
        var size = stageTwo is null ? CaptionedDigits.SmallSize : CaptionedDigits.LargeSize;
        return EncodeSheet(pixels, size, Enumerable.Repeat(string.Empty, captions.Length).ToArray(), columns: seedsPerCaption * 2, scale: stageTwo is null ? 2 : 1);
    }

    /// <summary>
    /// Images for captions and seeds from the TorchSharp networks in eval mode (noise drawn as the server draws
    /// it): Stage-I 32×32 and, with Stage-II, 64×64, CHW in [-1, 1]. Leaves the networks in eval mode.
    /// </summary>
    public static (float[] Small, float[]? Large) Generate(StageOneGenerator stageOne, StageTwoGenerator? stageTwo, IReadOnlyList<string> captions, IReadOnlyList<ulong> seeds, float truncation = 0f)
    {
        const int chunk = 100;
        var networks = stageOne.Architecture;
        var (zValues, oneValues, twoValues) = StackGanNoise.Draw(seeds, networks, truncation);
        var tokens = captions.SelectMany(CaptionGrammar.Tokenize).ToArray();
        stageOne.eval();
        stageTwo?.eval();
        const int smallLength = 3 * CaptionedDigits.SmallSize * CaptionedDigits.SmallSize;
        const int largeLength = 3 * CaptionedDigits.LargeSize * CaptionedDigits.LargeSize;
        var small = new float[captions.Count * smallLength];
        var large = stageTwo is null ? null : new float[captions.Count * largeLength];
        var (t, e, l, c) = (CaptionGrammar.MaxTokens, networks.EmbeddingDimension, networks.LatentDimension, networks.ConditionDimension);
        for (var start = 0; start < captions.Count; start += chunk)
        {
            var b = Math.Min(chunk, captions.Count - start);
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var tokenTensor = tensor(tokens.AsSpan(start * t, b * t).ToArray(), [b, t]);
            var none = zeros(b, e);
            using var first = stageOne.Forward(tokenTensor, none, tensor(zValues.AsSpan(start * l, b * l).ToArray(), [b, l]), tensor(oneValues.AsSpan(start * c, b * c).ToArray(), [b, c]));
            first.Image.data<float>().CopyTo(small, start * smallLength);
            if (stageTwo is not null)
            {
                using var second = stageTwo.Forward(tokenTensor, none, first.Image, tensor(twoValues.AsSpan(start * c, b * c).ToArray(), [b, c]));
                second.Image.data<float>().CopyTo(large!, start * largeLength);
            }
        }

        return (small, large);
    }

    /// <summary>
    /// Images [N, 3, size, size] in [-1, 1] in rows of <paramref name="columns"/>, each with its caption
    /// (wrapped to two lines) underneath when captions are given.
    /// </summary>
    public static byte[] EncodeSheet(float[] pixels, int size, IReadOnlyList<string> captions, int columns, int scale = 2)
    {
        var count = captions.Count;
        var area = size * size;
        if (pixels.Length != count * 3 * area)
        {
            throw new ArgumentException($"expected {count} RGB images of {size}×{size}.", nameof(pixels));
        }

        var withText = captions.Any(c => c.Length > 0);
        const int gap = 4;
        var textHeight = withText ? 30 : 0;
        var cellWidth = Math.Max(size * scale, withText ? 150 : 0);
        var cellHeight = (size * scale) + textHeight;
        var rows = (count + columns - 1) / columns;
        var width = (columns * (cellWidth + gap)) + gap;
        var height = (rows * (cellHeight + gap)) + gap;
        using var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Opaque));
        var target = bitmap.GetPixelSpan();
        for (var p = 0; p < target.Length; p += 4)
        {
            target[p] = 40;
            target[p + 1] = 40;
            target[p + 2] = 48;
            target[p + 3] = 255;
        }

        // Images first, pixel by pixel (nearest-neighbour upscaling keeps them crisp), then the captions.
        for (var i = 0; i < count; i++)
        {
            var (x0, y0) = Cell(i);
            var left = x0 + ((cellWidth - (size * scale)) / 2);
            for (var y = 0; y < size * scale; y++)
            {
                for (var x = 0; x < size * scale; x++)
                {
                    var source = (i * 3 * area) + ((y / scale) * size) + (x / scale);
                    var offset = ((((y0 + y) * width) + left + x) * 4);
                    target[offset] = ToByte(pixels[source]);
                    target[offset + 1] = ToByte(pixels[source + area]);
                    target[offset + 2] = ToByte(pixels[source + (2 * area)]);
                }
            }
        }

        if (withText)
        {
            using var canvas = new SKCanvas(bitmap);
            using var typeface = LoadTypeface();
            using var font = new SKFont(typeface, 10.5f);
            using var paint = new SKPaint { Color = new SKColor(230, 230, 230), IsAntialias = true };
            for (var i = 0; i < count; i++)
            {
                var (x0, y0) = Cell(i);
                var lines = Wrap(captions[i], font, cellWidth - 4);
                for (var l = 0; l < lines.Count && l < 2; l++)
                {
                    canvas.DrawText(lines[l], x0 + 2, y0 + (size * scale) + 12 + (l * 12), SKTextAlign.Left, font, paint);
                }
            }

            canvas.Flush();
        }

        (int X, int Y) Cell(int i) => (gap + ((i % columns) * (cellWidth + gap)), gap + ((i / columns) * (cellHeight + gap)));

        using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }

    private static byte ToByte(float value) => (byte)Math.Clamp(MathF.Round((value + 1f) * 127.5f), 0f, 255f);

    private static List<string> Wrap(string text, SKFont font, float width)
    {
        var lines = new List<string>();
        var line = string.Empty;
        foreach (var word in text.Split(' '))
        {
            var candidate = line.Length == 0 ? word : line + " " + word;
            if (line.Length > 0 && font.MeasureText(candidate) > width)
            {
                lines.Add(line);
                line = word;
            }
            else
            {
                line = candidate;
            }
        }

        lines.Add(line);
        return lines;
    }

    // The portable Skia build has no font manager of its own: use DejaVu Sans where the system has it.
    private static SKTypeface LoadTypeface()
    {
        foreach (var path in new[] { "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "/usr/share/fonts/TTF/DejaVuSans.ttf" })
        {
            if (File.Exists(path) && SKTypeface.FromFile(path) is { } typeface)
            {
                return typeface;
            }
        }

        return SKTypeface.CreateDefault();
    }
}

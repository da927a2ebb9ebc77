using GanInference.Trainers.Data;

namespace GanInference.Trainers.TextToImage;

/// <summary>
/// Reads thin / regular / thick back from a captioned digit (docs/text-to-image.md, "Evaluation"), sharing nothing
/// with the generator's training: the image's ink map (<see cref="TextToImageEvaluator.Analyse"/>) gives its mean
/// stroke width, 2·(ink area) / (ink perimeter) with ink = the map above 0.5 and the perimeter counted in pixel edges
/// (a stroke of length L and width w has area L·w and perimeter 2(L + w), so the figure is w for L ≫ w). Stroke widths
/// differ between digits, so the reader is calibrated per digit: the mean log width of real renders of MNIST digits
/// of that class at each thickness, and an image reads as the thickness whose mean is nearest for the digit its
/// caption asks for.
/// </summary>
public sealed class ThicknessReader
{
    private const float InkThreshold = 0.5f;
    private readonly double[] centres; // [digit * 3 + thickness], mean log stroke width

    private ThicknessReader(int size, double[] centres)
    {
        Size = size;
        this.centres = centres;
    }

    /// <summary>The image side the reader was calibrated at (32 or 64).</summary>
    public int Size { get; }

    /// <summary>The calibrated mean stroke width (pixels at <see cref="Size"/>) of <paramref name="digit"/> drawn at <paramref name="thickness"/>.</summary>
    public double Width(int digit, int thickness) => Math.Exp(centres[(digit * 3) + thickness]);

    /// <summary>
    /// Calibrates on real renders of up to <paramref name="perDigit"/> digits of each class from <paramref name="data"/>
    /// (the training split; the first of each class), each drawn at all three thicknesses with the same colour and
    /// background (cycling over the valid pairs).
    /// </summary>
    public static ThicknessReader Calibrate(MnistDataset data, int size, int perDigit = 100)
    {
        if (size is not (CaptionedDigits.SmallSize or CaptionedDigits.LargeSize))
        {
            throw new ArgumentOutOfRangeException(nameof(size), size, $"the reader reads {CaptionedDigits.SmallSize}×{CaptionedDigits.SmallSize} or {CaptionedDigits.LargeSize}×{CaptionedDigits.LargeSize} images.");
        }

        var pairs = CaptionGrammar.AllCombinations().Where(a => a.Digit == 0 && a.Thickness == 0).Select(a => (a.Colour, a.Background)).ToArray();
        var sums = new double[10 * 3];
        var counts = new int[10];
        var grey = new float[MnistDataset.ImageSize * MnistDataset.ImageSize];
        var large = new float[3 * CaptionedDigits.LargeSize * CaptionedDigits.LargeSize];
        var small = new float[3 * CaptionedDigits.SmallSize * CaptionedDigits.SmallSize];
        for (var index = 0; index < data.Count; index++)
        {
            int digit = data.Labels[index];
            if (counts[digit] == perDigit)
            {
                continue;
            }

            CaptionedDigits.Grey(data, index, grey);
            var (colour, background) = pairs[(index + counts[digit]) % pairs.Length];
            for (var thickness = 0; thickness < 3; thickness++)
            {
                CaptionedDigits.Render(grey, new DigitAttributes(digit, colour, background, thickness), large, small);
                var image = size == CaptionedDigits.LargeSize ? large : small;
                for (var i = 0; i < image.Length; i++)
                {
                    image[i] = (image[i] * 2f) - 1f;
                }

                sums[(digit * 3) + thickness] += Math.Log(StrokeWidth(image, size));
            }

            counts[digit]++;
        }

        for (var digit = 0; digit < 10; digit++)
        {
            if (counts[digit] == 0)
            {
                throw new InvalidDataException($"the calibration data has no digit {digit}.");
            }

            for (var thickness = 0; thickness < 3; thickness++)
            {
                sums[(digit * 3) + thickness] /= counts[digit];
            }
        }

        return new ThicknessReader(size, sums);
    }

    /// <summary>
    /// Mean stroke width in pixels of one image [3, size, size] in [-1, 1]: 2·(ink area) / (ink perimeter), ink being the
    /// normalised distance from the measured background above 0.5; the perimeter counts the sides of ink pixels that face a
    /// non-ink pixel or the image edge. An image without ink gives a tiny width (it reads as thin).
    /// </summary>
    public static double StrokeWidth(ReadOnlySpan<float> image, int size)
    {
        var ink = TextToImageEvaluator.Analyse(image, size).Ink;
        bool Inked(int x, int y) => x >= 0 && y >= 0 && x < size && y < size && ink[(y * size) + x] > InkThreshold;
        long area = 0, edges = 0;
        for (var y = 0; y < size; y++)
        {
            for (var x = 0; x < size; x++)
            {
                if (!Inked(x, y))
                {
                    continue;
                }

                area++;
                edges += (Inked(x - 1, y) ? 0 : 1) + (Inked(x + 1, y) ? 0 : 1) + (Inked(x, y - 1) ? 0 : 1) + (Inked(x, y + 1) ? 0 : 1);
            }
        }

        return edges == 0 ? 1e-3 : 2.0 * area / edges;
    }

    /// <summary>The thickness (0 thin, 1 regular, 2 thick) an image [3, Size, Size] in [-1, 1] shows, for a caption asking for <paramref name="digit"/>.</summary>
    public int Read(ReadOnlySpan<float> image, int digit)
    {
        var width = Math.Log(StrokeWidth(image, Size));
        var best = 0;
        for (var thickness = 1; thickness < 3; thickness++)
        {
            if (Math.Abs(width - centres[(digit * 3) + thickness]) < Math.Abs(width - centres[(digit * 3) + best]))
            {
                best = thickness;
            }
        }

        return best;
    }

    /// <summary>Share of images [n, 3, Size, Size] in [-1, 1] that read as their caption's thickness.</summary>
    public double Accuracy(float[] images, IReadOnlyList<(DigitAttributes Attributes, string Caption)> captions)
    {
        var confusion = Confusion(images, captions);
        return (confusion[0, 0] + confusion[1, 1] + confusion[2, 2]) / (double)captions.Count;
    }

    /// <summary>For thin, regular and thick captions in turn: the share of their images that read as that thickness.</summary>
    public double[] AccuracyByThickness(float[] images, IReadOnlyList<(DigitAttributes Attributes, string Caption)> captions)
    {
        var confusion = Confusion(images, captions);
        return [.. Enumerable.Range(0, 3).Select(t => confusion[t, t] / (double)Math.Max(1, confusion[t, 0] + confusion[t, 1] + confusion[t, 2]))];
    }

    /// <summary>Counts [caption's thickness, thickness read] over images [n, 3, Size, Size] in [-1, 1].</summary>
    public int[,] Confusion(float[] images, IReadOnlyList<(DigitAttributes Attributes, string Caption)> captions)
    {
        var length = 3 * Size * Size;
        if (images.Length != captions.Count * length)
        {
            throw new ArgumentException($"expected {captions.Count} images of {length} values, got {images.Length} values.", nameof(images));
        }

        var confusion = new int[3, 3];
        for (var i = 0; i < captions.Count; i++)
        {
            confusion[captions[i].Attributes.Thickness, Read(images.AsSpan(i * length, length), captions[i].Attributes.Digit)]++;
        }

        return confusion;
    }
}

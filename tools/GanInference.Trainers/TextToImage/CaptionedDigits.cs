using GanInference.Trainers.Data;

namespace GanInference.Trainers.TextToImage;

/// <summary>
/// Paints MNIST digits as captioned colour digits (docs/text-to-image.md): thickness by a
/// morphological filter on the 28×28 grey digit (thin: minimum over the pixel and its four
/// neighbours; thick: maximum over its 3×3 neighbourhood), 2 pixels of padding to 32×32, bilinear
/// upsizing to 64×64 (half-pixel centres), then pixel = background + (stroke − background)·ink.
/// The 32×32 Stage-I image is the area downsizing of the 64×64 one. Values in [0, 1], CHW.
/// </summary>
public static class CaptionedDigits
{
    public const int Channels = 3;
    public const int LargeSize = 64;
    public const int SmallSize = 32;
    private const int Padding = (SmallSize - MnistDataset.ImageSize) / 2;

    /// <summary>The ink weight (0..1) of the digit at 64×64 after the thickness filter.</summary>
    public static void Ink(ReadOnlySpan<float> grey28, int thickness, Span<float> ink64)
    {
        const int n = MnistDataset.ImageSize;
        Span<float> filtered = stackalloc float[n * n];
        for (var y = 0; y < n; y++)
        {
            for (var x = 0; x < n; x++)
            {
                var value = grey28[(y * n) + x];
                if (thickness != 1)
                {
                    for (var dy = -1; dy <= 1; dy++)
                    {
                        for (var dx = -1; dx <= 1; dx++)
                        {
                            var plus = dx == 0 || dy == 0;
                            if ((thickness == 0 && !plus) || (dx == 0 && dy == 0))
                            {
                                continue;
                            }

                            var yy = y + dy;
                            var xx = x + dx;
                            var neighbour = yy is >= 0 and < n && xx is >= 0 and < n ? grey28[(yy * n) + xx] : 0f;
                            value = thickness == 0 ? Math.Min(value, neighbour) : Math.Max(value, neighbour);
                        }
                    }
                }

                filtered[(y * n) + x] = value;
            }
        }

        Span<float> padded = stackalloc float[SmallSize * SmallSize];
        padded.Clear();
        for (var y = 0; y < n; y++)
        {
            filtered.Slice(y * n, n).CopyTo(padded.Slice(((y + Padding) * SmallSize) + Padding, n));
        }

        DigitImaging.ResizeBilinear(padded, SmallSize, ink64, LargeSize);
    }

    /// <summary>Paints the digit: <paramref name="large"/> [3, 64, 64] and <paramref name="small"/> [3, 32, 32], values in [0, 1].</summary>
    public static void Render(ReadOnlySpan<float> grey28, DigitAttributes attributes, Span<float> large, Span<float> small)
    {
        const int area = LargeSize * LargeSize;
        Span<float> ink = stackalloc float[area];
        Ink(grey28, attributes.Thickness, ink);
        var stroke = CaptionGrammar.Colours[attributes.Colour];
        var background = CaptionGrammar.Backgrounds[attributes.Background];
        ReadOnlySpan<float> strokeRgb = [stroke.R, stroke.G, stroke.B];
        ReadOnlySpan<float> backgroundRgb = [background.R, background.G, background.B];
        for (var c = 0; c < Channels; c++)
        {
            var plane = large.Slice(c * area, area);
            for (var i = 0; i < area; i++)
            {
                plane[i] = backgroundRgb[c] + ((strokeRgb[c] - backgroundRgb[c]) * ink[i]);
            }

            DigitImaging.ResizeArea(plane, LargeSize, small.Slice(c * SmallSize * SmallSize, SmallSize * SmallSize), SmallSize);
        }
    }

    /// <summary>MNIST image <paramref name="index"/> as grey values in [0, 1].</summary>
    public static void Grey(MnistDataset data, int index, Span<float> destination)
    {
        const int n = MnistDataset.ImageSize * MnistDataset.ImageSize;
        var pixels = data.Pixels.AsSpan(index * n, n);
        for (var i = 0; i < n; i++)
        {
            destination[i] = pixels[i] / 255f;
        }
    }
}

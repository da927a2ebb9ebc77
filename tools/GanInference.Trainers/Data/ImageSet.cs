using static TorchSharp.torch;

namespace GanInference.Trainers.Data;

/// <summary>
/// A set of 64×64 images with <see cref="Channels"/> planes (CHW, back to back) and values in [0, 1],
/// plus the MNIST label and file index each came from (for evaluation and provenance).
/// </summary>
public sealed class ImageSet
{
    public ImageSet(int channels, float[] pixels, byte[] labels, int[] sourceIndices)
    {
        if (pixels.Length != labels.Length * LengthOf(channels) || sourceIndices.Length != labels.Length)
        {
            throw new ArgumentException($"pixels, labels and indices disagree on the image count ({labels.Length}).", nameof(pixels));
        }

        Channels = channels;
        Pixels = pixels;
        Labels = labels;
        SourceIndices = sourceIndices;
    }

    public int Channels { get; }

    public int Count => Labels.Length;

    /// <summary>Images back to back, each [Channels, 64, 64] in [0, 1].</summary>
    public float[] Pixels { get; }

    public byte[] Labels { get; }

    /// <summary>Index of each image's source digit in its MNIST file.</summary>
    public int[] SourceIndices { get; }

    /// <summary>Values per image: Channels × 64 × 64.</summary>
    public int ImageLength => LengthOf(Channels);

    public static int LengthOf(int channels) => channels * DigitImaging.Size * DigitImaging.Size;

    public ReadOnlySpan<float> Image(int index) => Pixels.AsSpan(index * ImageLength, ImageLength);

    /// <summary>All images as float32 [N, C, 64, 64] in [-1, 1], the networks' range.</summary>
    public Tensor ToTensor()
    {
        using var unit = tensor(Pixels, [Count, Channels, DigitImaging.Size, DigitImaging.Size]);
        return unit.mul(2.0).sub_(1.0);
    }

    /// <summary>The images in [-1, 1], as the exported models take them.</summary>
    public float[] ToModelRange() => Array.ConvertAll(Pixels, p => (p * 2f) - 1f);
}

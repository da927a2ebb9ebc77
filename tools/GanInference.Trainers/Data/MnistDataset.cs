using static TorchSharp.torch;

namespace GanInference.Trainers.Data;

/// <summary>Which half of an MNIST folder.</summary>
public enum MnistSplit
{
    Train,
    Test,
}

/// <summary>
/// MNIST digits from a folder of IDX files (train-images-idx3-ubyte, train-labels-idx1-ubyte,
/// t10k-… for the test split), each plain or with a <c>.gz</c> suffix.
/// </summary>
public sealed class MnistDataset
{
    public const int ImageSize = 28;
    public const int ClassCount = 10;

    private MnistDataset(byte[] pixels, byte[] labels, int count)
    {
        Pixels = pixels;
        Labels = labels;
        Count = count;
    }

    /// <summary>Row-major 28×28 grey bytes, white digit on black, <see cref="Count"/> images.</summary>
    public byte[] Pixels { get; }

    /// <summary>Class of each image, 0–9.</summary>
    public byte[] Labels { get; }

    public int Count { get; }

    /// <summary>Loads one split; every problem is a <see cref="DatasetException"/> naming the file.</summary>
    public static async Task<MnistDataset> LoadAsync(string directory, MnistSplit split, CancellationToken cancellationToken)
    {
        if (!Directory.Exists(directory))
        {
            throw new DatasetException(directory, "MNIST data folder not found.");
        }

        var prefix = split == MnistSplit.Train ? "train" : "t10k";
        var imagesPath = Locate(directory, $"{prefix}-images-idx3-ubyte");
        var labelsPath = Locate(directory, $"{prefix}-labels-idx1-ubyte");
        var images = await IdxFile.ReadAsync(imagesPath, IdxFile.ImagesMagic, cancellationToken).ConfigureAwait(false);
        var labels = await IdxFile.ReadAsync(labelsPath, IdxFile.LabelsMagic, cancellationToken).ConfigureAwait(false);

        if (images.Dimensions[1] != ImageSize || images.Dimensions[2] != ImageSize)
        {
            throw new DatasetException(imagesPath, $"images are {images.Dimensions[1]}x{images.Dimensions[2]}, expected {ImageSize}x{ImageSize}.");
        }

        if (images.Dimensions[0] != labels.Dimensions[0])
        {
            throw new DatasetException(labelsPath, $"holds {labels.Dimensions[0]} labels but {imagesPath} holds {images.Dimensions[0]} images.");
        }

        var badLabel = Array.FindIndex(labels.Data, l => l >= ClassCount);
        if (badLabel >= 0)
        {
            throw new DatasetException(labelsPath, $"label {labels.Data[badLabel]} at index {badLabel} is not a digit 0-9.");
        }

        return new MnistDataset(images.Data, labels.Data, images.Dimensions[0]);
    }

    /// <summary>All images as float32 [N, 1, 28, 28] scaled to [-1, 1] (the generators' tanh range).</summary>
    public Tensor ImagesTensor()
    {
        using var bytes = tensor(Pixels, ScalarType.Byte).reshape(Count, 1, ImageSize, ImageSize);
        using var floats = bytes.to_type(ScalarType.Float32);
        return floats.div(127.5).sub_(1.0);
    }

    /// <summary>All labels as int64 [N].</summary>
    public Tensor LabelsTensor() => tensor(Labels, ScalarType.Byte).to_type(ScalarType.Int64);

    /// <summary>Image <paramref name="index"/> as floats in [-1, 1], row-major.</summary>
    public void CopyImage(int index, Span<float> destination)
    {
        var source = Pixels.AsSpan(index * ImageSize * ImageSize, ImageSize * ImageSize);
        for (var i = 0; i < source.Length; i++)
        {
            destination[i] = (source[i] / 127.5f) - 1f;
        }
    }

    private static string Locate(string directory, string stem)
    {
        var plain = Path.Combine(directory, stem);
        if (File.Exists(plain))
        {
            return plain;
        }

        var gzip = plain + ".gz";
        if (File.Exists(gzip))
        {
            return gzip;
        }

        throw new DatasetException(gzip, $"MNIST file not found (looked for {stem} and {stem}.gz in {directory}).");
    }
}

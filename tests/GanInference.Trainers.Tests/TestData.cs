using System.Buffers.Binary;
using System.IO.Compression;

namespace GanInference.Trainers.Tests;

/// <summary>A temp folder deleted after the test.</summary>
internal sealed class TempDirectory : IDisposable
{
    public TempDirectory()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "gan-trainers-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string Combine(params string[] parts) => System.IO.Path.Combine([Path, .. parts]);

    public void Dispose()
    {
        if (Directory.Exists(Path))
        {
            Directory.Delete(Path, recursive: true);
        }
    }
}

/// <summary>Writes small MNIST-shaped IDX files: digit d is a bright bar whose position and angle depend on d, plus noise.</summary>
internal static class TinyMnist
{
    public const int Side = 28;

    public static void Write(string directory, int trainCount, int testCount, bool gzip, int seed = 3)
    {
        Directory.CreateDirectory(directory);
        var random = new Random(seed);
        WriteSplit(directory, "train", trainCount, gzip, random);
        WriteSplit(directory, "t10k", testCount, gzip, random);
    }

    public static byte[] Images(int count, byte[] labels, Random random)
    {
        var header = new byte[16];
        BinaryPrimitives.WriteInt32BigEndian(header, 0x803);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), count);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(8), Side);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(12), Side);
        var pixels = new byte[count * Side * Side];
        for (var i = 0; i < count; i++)
        {
            var d = labels[i];
            for (var y = 4; y < 24; y++)
            {
                var x = 4 + (2 * d) + ((y * d) / 12);
                for (var dx = 0; dx < 3; dx++)
                {
                    pixels[(i * Side * Side) + (y * Side) + Math.Min(Side - 1, x + dx)] = (byte)random.Next(180, 256);
                }
            }
        }

        return [.. header, .. pixels];
    }

    public static byte[] Labels(byte[] labels)
    {
        var header = new byte[8];
        BinaryPrimitives.WriteInt32BigEndian(header, 0x801);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), labels.Length);
        return [.. header, .. labels];
    }

    public static void WriteFile(string path, byte[] content, bool gzip)
    {
        if (!gzip)
        {
            File.WriteAllBytes(path, content);
            return;
        }

        using var file = File.Create(path + ".gz");
        using var zip = new GZipStream(file, CompressionLevel.Fastest);
        zip.Write(content);
    }

    private static void WriteSplit(string directory, string prefix, int count, bool gzip, Random random)
    {
        var labels = Enumerable.Range(0, count).Select(i => (byte)(i % 10)).ToArray();
        WriteFile(Path.Combine(directory, $"{prefix}-images-idx3-ubyte"), Images(count, labels, random), gzip);
        WriteFile(Path.Combine(directory, $"{prefix}-labels-idx1-ubyte"), Labels(labels), gzip);
    }
}

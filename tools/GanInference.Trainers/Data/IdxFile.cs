using System.Buffers.Binary;
using System.IO.Compression;

namespace GanInference.Trainers.Data;

/// <summary>
/// Reads IDX files (the MNIST container: big-endian magic, dimension sizes, then unsigned bytes),
/// plain or gzip-compressed (detected from the content, not the name).
/// </summary>
internal static class IdxFile
{
    /// <summary>Magic of unsigned-byte tensors with 1 dimension (labels).</summary>
    public const int LabelsMagic = 0x00000801;

    /// <summary>Magic of unsigned-byte tensors with 3 dimensions (images).</summary>
    public const int ImagesMagic = 0x00000803;

    /// <summary>Reads a whole IDX file whose magic must be <paramref name="expectedMagic"/>.</summary>
    public static async Task<IdxTensor> ReadAsync(string path, int expectedMagic, CancellationToken cancellationToken)
    {
        if (!File.Exists(path))
        {
            throw new DatasetException(path, "file not found.");
        }

        try
        {
            await using var file = File.OpenRead(path);
            await using var content = await IsGzipAsync(file, cancellationToken).ConfigureAwait(false)
                ? new GZipStream(file, CompressionMode.Decompress)
                : (Stream)file;

            var magicBytes = new byte[4];
            await ReadExactAsync(content, magicBytes, path, "the magic number", cancellationToken).ConfigureAwait(false);
            var magic = BinaryPrimitives.ReadInt32BigEndian(magicBytes);
            if (magic != expectedMagic)
            {
                throw new DatasetException(path, $"wrong IDX magic number 0x{magic:X8}, expected 0x{expectedMagic:X8} ({Describe(expectedMagic)}).");
            }

            var rank = expectedMagic & 0xFF;
            var dimensionBytes = new byte[4 * rank];
            await ReadExactAsync(content, dimensionBytes, path, "the dimension sizes", cancellationToken).ConfigureAwait(false);
            var dimensions = new int[rank];
            long total = 1;
            for (var i = 0; i < rank; i++)
            {
                dimensions[i] = BinaryPrimitives.ReadInt32BigEndian(dimensionBytes.AsSpan(4 * i));
                if (dimensions[i] <= 0)
                {
                    throw new DatasetException(path, $"dimension {i} has size {dimensions[i]}; sizes must be positive.");
                }

                total *= dimensions[i];
            }

            if (total > Array.MaxLength)
            {
                throw new DatasetException(path, $"holds {total} bytes, more than one array can hold.");
            }

            var data = new byte[total];
            await ReadExactAsync(content, data, path, $"{total} data bytes", cancellationToken).ConfigureAwait(false);
            return new IdxTensor(dimensions, data);
        }
        catch (InvalidDataException e)
        {
            throw new DatasetException(path, "corrupt gzip stream (" + e.Message + ").", e);
        }
        catch (EndOfStreamException e)
        {
            throw new DatasetException(path, "the file is truncated.", e);
        }
    }

    private static string Describe(int magic) => magic switch
    {
        LabelsMagic => "IDX1 unsigned-byte labels",
        ImagesMagic => "IDX3 unsigned-byte images",
        _ => "IDX",
    };

    private static async Task<bool> IsGzipAsync(FileStream file, CancellationToken cancellationToken)
    {
        var header = new byte[2];
        var read = await file.ReadAtLeastAsync(header, 2, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
        file.Position = 0;
        return read == 2 && header[0] == 0x1F && header[1] == 0x8B;
    }

    private static async Task ReadExactAsync(Stream stream, Memory<byte> buffer, string path, string what, CancellationToken cancellationToken)
    {
        var read = await stream.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
        if (read < buffer.Length)
        {
            throw new DatasetException(path, $"the file is truncated: expected {what}, found only {read} of {buffer.Length} bytes.");
        }
    }
}

/// <summary>The dimension sizes and raw bytes of one IDX file.</summary>
internal sealed record IdxTensor(int[] Dimensions, byte[] Data);

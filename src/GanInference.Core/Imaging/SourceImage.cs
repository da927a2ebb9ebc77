namespace GanInference.Core.Imaging;

/// <summary>How the bytes of an uploaded image are laid out (mirrors <c>gan.v1.InputEncoding</c>).</summary>
public enum SourceEncoding
{
    /// <summary>PNG or JPEG, recognised by their magic bytes.</summary>
    Auto,

    /// <summary>A PNG file.</summary>
    Png,

    /// <summary>A JPEG file.</summary>
    Jpeg,

    /// <summary>uint8 height × width × channels (HWC), row-major.</summary>
    RawU8,

    /// <summary>float32 little-endian channels × height × width (CHW), in the model's input range.</summary>
    RawF32,
}

/// <summary>An uploaded image as received: bytes plus, for raw encodings, their geometry.</summary>
/// <param name="Data">The bytes.</param>
/// <param name="Encoding">Their layout.</param>
/// <param name="Width">Raw encodings: columns.</param>
/// <param name="Height">Raw encodings: rows.</param>
/// <param name="Channels">Raw encodings: 1 (grey) or 3 (RGB).</param>
/// <param name="Id">The caller's name for the image, echoed back.</param>
public readonly record struct SourceImage(ReadOnlyMemory<byte> Data, SourceEncoding Encoding, int Width, int Height, int Channels, string Id);

/// <summary>
/// Float pixels in [0, 1], planar (CHW), in an array of at least <see cref="Length"/> values that may be
/// rented from <see cref="System.Buffers.ArrayPool{T}.Shared"/> (see <see cref="IsPooled"/>).
/// </summary>
/// <param name="Pixels">C·H·W values.</param>
/// <param name="Channels">1 (grey) or 3 (RGB).</param>
/// <param name="Height">Rows.</param>
/// <param name="Width">Columns.</param>
/// <param name="IsPooled">True when <paramref name="Pixels"/> must go back to the shared pool.</param>
public readonly record struct PlanarImage(float[] Pixels, int Channels, int Height, int Width, bool IsPooled)
{
    /// <summary>Values in use: C·H·W.</summary>
    public int Length => Channels * Height * Width;

    /// <summary>The values in use.</summary>
    public Span<float> Span => Pixels.AsSpan(0, Length);

    /// <summary>Returns a pooled buffer; a no-op otherwise.</summary>
    public void Return()
    {
        if (IsPooled)
        {
            System.Buffers.ArrayPool<float>.Shared.Return(Pixels);
        }
    }
}

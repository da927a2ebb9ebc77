namespace GanInference.Core.Imaging;

/// <summary>How generated images are delivered (mirrors <c>gan.v1.ImageFormat</c>).</summary>
public enum ImageFormatKind
{
    /// <summary>8-bit PNG; grey for one channel, RGB for three.</summary>
    Png,

    /// <summary>Baseline JPEG at a quality of 1..100.</summary>
    Jpeg,

    /// <summary>uint8 height × width × channels, row-major, model range mapped to 0..255.</summary>
    RawU8,

    /// <summary>float32 little-endian channels × height × width, in the model's own range.</summary>
    RawF32,
}

/// <summary>An output format and its parameters.</summary>
/// <param name="Format">The format.</param>
/// <param name="JpegQuality">JPEG quality 1..100 (ignored by the other formats).</param>
public readonly record struct ImageEncoding(ImageFormatKind Format, int JpegQuality = ImageEncoding.DefaultJpegQuality)
{
    /// <summary>Quality used when a request gives none.</summary>
    public const int DefaultJpegQuality = 90;

    /// <summary>The format's name in the API (<c>gan.v1.ImageFormat</c>): PNG, JPEG, RAW_U8, RAW_F32.</summary>
    public static string ApiName(ImageFormatKind format) => format switch
    {
        ImageFormatKind.Png => "PNG",
        ImageFormatKind.Jpeg => "JPEG",
        ImageFormatKind.RawU8 => "RAW_U8",
        ImageFormatKind.RawF32 => "RAW_F32",
        _ => format.ToString(),
    };
}

/// <summary>Geometry and value range of the float CHW images a model produces.</summary>
/// <param name="Channels">1 (grey) or 3 (RGB).</param>
/// <param name="Height">Rows.</param>
/// <param name="Width">Columns.</param>
/// <param name="Min">Value mapped to 0.</param>
/// <param name="Max">Value mapped to 255.</param>
public readonly record struct ImageGeometry(int Channels, int Height, int Width, float Min, float Max)
{
    /// <summary>Floats per image.</summary>
    public int Length => Channels * Height * Width;
}

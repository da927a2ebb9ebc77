using GanInference.Core.Errors;

namespace GanInference.Core.Limits;

/// <summary>
/// The one place request limits are checked, so every RPC words a breach the same way:
/// INVALID_ARGUMENT naming the field, the value, the limit and the configuration key that sets it, e.g.
/// <c>count: 2000 images is outside 1..1024 for this call (Limits:MaxImagesPerRequest)</c>.
/// Generate and GenerateStream use <see cref="CheckAtMost"/> for image counts; the image-to-image and
/// text RPCs use <see cref="CheckImagePixels"/>, <see cref="CheckText"/> and <see cref="CheckAtMost"/>
/// (token counts) with their own configured limits.
/// </summary>
public static class RequestLimits
{
    /// <summary>Refuses <paramref name="value"/> above <paramref name="max"/>.</summary>
    /// <param name="field">The field as named in the public API.</param>
    /// <param name="value">The value asked for.</param>
    /// <param name="max">The configured limit.</param>
    /// <param name="limitName">The configuration key, for the message; null leaves it out.</param>
    /// <param name="unit">What is counted (<c>images</c>, <c>tokens</c>).</param>
    /// <exception cref="InvalidFieldException"><paramref name="value"/> is above <paramref name="max"/>.</exception>
    public static void CheckAtMost(string field, long value, long max, string? limitName, string unit)
    {
        if (value > max)
        {
            throw new InvalidFieldException(field, $"{value} {unit} is outside 1..{max} for this call{Source(limitName)}");
        }
    }

    /// <summary>Refuses an input image with more than <paramref name="maxPixels"/> pixels (checked from its header, before decoding).</summary>
    /// <exception cref="InvalidFieldException">The image is too large, or a side is not positive.</exception>
    public static void CheckImagePixels(string field, long width, long height, long maxPixels, string? limitName)
    {
        if (width <= 0 || height <= 0)
        {
            throw new InvalidFieldException(field, $"image size {width}x{height} must be positive");
        }

        if (width * height > maxPixels)
        {
            throw new InvalidFieldException(field, $"image of {width}x{height} = {width * height} pixels is over the limit of {maxPixels} pixels{Source(limitName)}");
        }
    }

    /// <summary>Refuses text longer than <paramref name="maxChars"/> UTF-16 characters.</summary>
    /// <exception cref="InvalidFieldException">The text is too long.</exception>
    public static void CheckText(string field, string text, int maxChars, string? limitName)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Length > maxChars)
        {
            throw new InvalidFieldException(field, $"text of {text.Length} characters is over the limit of {maxChars}{Source(limitName)}");
        }
    }

    private static string Source(string? limitName) => limitName is null ? string.Empty : $" ({limitName})";
}

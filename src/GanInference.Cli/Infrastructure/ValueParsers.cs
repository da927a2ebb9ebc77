using System.Globalization;
using GanInference.Api.V1;

namespace GanInference.Cli;

/// <summary>Parsers for option values that System.CommandLine does not understand on its own.</summary>
internal static class ValueParsers
{
    /// <summary>"30s", "500ms", "2m", "1h", "1.5" (seconds) or "00:00:30".</summary>
    public static bool TryParseDuration(string text, out TimeSpan duration)
    {
        duration = default;
        text = text.Trim();
        (string number, double scale) = text switch
        {
            _ when text.EndsWith("ms", StringComparison.OrdinalIgnoreCase) => (text[..^2], 0.001),
            _ when text.EndsWith('s') || text.EndsWith('S') => (text[..^1], 1.0),
            _ when text.EndsWith('m') || text.EndsWith('M') => (text[..^1], 60.0),
            _ when text.EndsWith('h') || text.EndsWith('H') => (text[..^1], 3600.0),
            _ => (text, 1.0),
        };

        if (double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && double.IsFinite(value) && value >= 0)
        {
            duration = TimeSpan.FromSeconds(value * scale);
            return true;
        }

        return TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out duration) && duration >= TimeSpan.Zero;
    }

    /// <summary>Comma-separated integers, e.g. "1,8,32,64".</summary>
    public static bool TryParseIntList(string text, out int[] values)
    {
        var parts = text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        values = new int[parts.Length];
        for (var i = 0; i < parts.Length; i++)
        {
            if (!int.TryParse(parts[i], NumberStyles.Integer, CultureInfo.InvariantCulture, out values[i]))
            {
                return false;
            }
        }

        return parts.Length > 0;
    }

    /// <summary>Comma-separated seeds and inclusive ranges, e.g. "7,100..115".</summary>
    public static bool TryParseSeeds(string text, out ulong[] seeds)
    {
        var result = new List<ulong>();
        seeds = [];
        foreach (var part in text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var range = part.Split("..", 2);
            if (!ulong.TryParse(range[0], NumberStyles.Integer, CultureInfo.InvariantCulture, out var first))
            {
                return false;
            }

            var last = first;
            if (range.Length == 2 && (!ulong.TryParse(range[1], NumberStyles.Integer, CultureInfo.InvariantCulture, out last) || last < first || last - first >= 1_000_000))
            {
                return false;
            }

            for (var seed = first; ; seed++)
            {
                result.Add(seed);
                if (seed == last)
                {
                    break;
                }
            }
        }

        seeds = [.. result];
        return seeds.Length > 0;
    }

    /// <summary>png, jpeg/jpg, raw-u8, raw-f32 (case-insensitive).</summary>
    public static bool TryParseFormat(string text, out ImageFormat format)
    {
        switch (text.Trim().ToLowerInvariant())
        {
            case "png":
                format = ImageFormat.Png;
                return true;
            case "jpeg" or "jpg":
                format = ImageFormat.Jpeg;
                return true;
            case "raw-u8" or "raw_u8" or "rawu8":
                format = ImageFormat.RawU8;
                return true;
            case "raw-f32" or "raw_f32" or "rawf32":
                format = ImageFormat.RawF32;
                return true;
            default:
                format = default;
                return false;
        }
    }

    public static string FormatName(ImageFormat format) => format switch
    {
        ImageFormat.Png => "png",
        ImageFormat.Jpeg => "jpeg",
        ImageFormat.RawU8 => "raw-u8",
        ImageFormat.RawF32 => "raw-f32",
        _ => format.ToString(),
    };
}

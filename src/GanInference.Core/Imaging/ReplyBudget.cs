using GanInference.Core.Errors;

namespace GanInference.Core.Imaging;

/// <summary>
/// What a reply will cost, decided before anything is decoded or run: the most bytes an image of a given size and
/// format can take in a reply, and the check of a whole unary reply against the send limit. PNG and JPEG sizes
/// depend on the pixels, so their bound is the worst case (incompressible pixels), not a guess.
/// </summary>
public static class ReplyBudget
{
    // Per image: the reply message's fields besides the pixels (sizes, index, seed, ids), generously.
    private const long MessageOverhead = 256;

    /// <summary>The most bytes one encoded image can take.</summary>
    public static long MaxImageBytes(long width, long height, long channels, ImageFormatKind format)
    {
        var samples = width * height * channels;
        return MessageOverhead + format switch
        {
            ImageFormatKind.RawU8 => samples,
            ImageFormatKind.RawF32 => 4 * samples,

            // PNG: one filter byte per row, stored deflate blocks (5 bytes per 64 KiB), zlib and chunk framing.
            ImageFormatKind.Png => (height * ((width * channels) + 1) * 65_540 / 65_535) + 1024,

            // JPEG of incompressible pixels at quality 100 stays under 1.5 bytes per sample, plus headers and tables.
            _ => (samples * 3 / 2) + 2048,
        };
    }

    /// <summary>Refuses a unary reply whose worst case passes <paramref name="maxSendBytes"/>, saying what to do instead.</summary>
    /// <param name="replyBytes">The reply's worst case, from <see cref="MaxImageBytes"/>.</param>
    /// <param name="maxSendBytes">The send limit.</param>
    /// <param name="limitName">Its configuration key.</param>
    /// <param name="what">The reply, for the message (e.g. <c>500 RAW_F32 images of 48x48x1</c>).</param>
    /// <param name="instead">What the caller can do (e.g. <c>use GenerateStream, which sends one image per message</c>).</param>
    /// <exception cref="ReplyTooLargeException">The reply cannot fit one message.</exception>
    public static void CheckReply(long replyBytes, long maxSendBytes, string limitName, string what, string instead)
    {
        if (replyBytes > maxSendBytes)
        {
            throw new ReplyTooLargeException(
                $"the reply ({what}) can take up to {replyBytes} bytes, over the limit of {maxSendBytes} bytes for one message ({limitName}); {instead}");
        }
    }
}

namespace GanInference.Core.Translation;

/// <summary>Translation pipeline settings, bound from the <c>Translation</c> configuration section.</summary>
public sealed class TranslationOptions
{
    /// <summary>Configuration section name.</summary>
    public const string SectionName = "Translation";

    /// <summary>
    /// Images of one TranslateStream decoded, queued or encoded at once (its memory bound); 0 means twice the
    /// model's maxBatchSize, capped by its maxQueueSize.
    /// </summary>
    public int StreamWindow { get; set; }

    /// <summary>Images of one Translate call decoded or encoded at once; 0 means one per processor.</summary>
    public int CodecParallelism { get; set; }
}

/// <summary>What a Translate call asks for besides its images, and the limits it runs under.</summary>
/// <param name="Encoding">Format of the answers.</param>
/// <param name="ResizeBack">Resize each answer to its input's size when the input was resized.</param>
/// <param name="MaxPixels">Most pixels one input image may have.</param>
/// <param name="MaxPixelsLimitName">Configuration key of <paramref name="MaxPixels"/>, for messages.</param>
/// <param name="Budget">What one call may decode and send (checked from the headers, before any work).</param>
public sealed record TranslationSettings(Imaging.ImageEncoding Encoding, bool ResizeBack, long MaxPixels, string MaxPixelsLimitName, TranslationBudget Budget);

/// <summary>The per-call budget of a Translate call, each limit with its configuration key for messages.</summary>
/// <param name="MaxPixelsPerRequest">Most input pixels of all images of one unary call together.</param>
/// <param name="MaxPixelsPerRequestLimitName">Configuration key of <paramref name="MaxPixelsPerRequest"/>.</param>
/// <param name="MaxReplyBytes">Most bytes of one reply message (a unary reply, or one stream answer).</param>
/// <param name="MaxReplyBytesLimitName">Configuration key of <paramref name="MaxReplyBytes"/>.</param>
public sealed record TranslationBudget(long MaxPixelsPerRequest, string MaxPixelsPerRequestLimitName, long MaxReplyBytes, string MaxReplyBytesLimitName)
{
    /// <summary>No budget (tests and tools that call the core directly).</summary>
    public static TranslationBudget Unlimited { get; } = new(long.MaxValue, string.Empty, long.MaxValue, string.Empty);
}

/// <summary>One translated image.</summary>
/// <param name="Index">Position of its input in the request or stream, from 0.</param>
/// <param name="Id">The caller's id of the input.</param>
/// <param name="Data">Encoded bytes (exactly sized: they become the message payload).</param>
/// <param name="Width">Columns of the delivered image.</param>
/// <param name="Height">Rows of the delivered image.</param>
/// <param name="Channels">Channels of the delivered image.</param>
/// <param name="ResizedFromWidth">The input's width when it was resized to the model's size, else 0.</param>
/// <param name="ResizedFromHeight">The input's height when it was resized, else 0.</param>
public sealed record TranslatedImage(int Index, string Id, byte[] Data, int Width, int Height, int Channels, int ResizedFromWidth, int ResizedFromHeight);

/// <summary>The answer for one image of a stream: the image, or why it could not be translated.</summary>
/// <param name="Index">Position in the stream, from 0.</param>
/// <param name="Id">The caller's id.</param>
/// <param name="Image">The translation; null when <paramref name="Error"/> is set.</param>
/// <param name="Error">The refusal of this image alone; the stream goes on.</param>
public sealed record TranslationOutcome(int Index, string Id, TranslatedImage? Image, Errors.GanRequestException? Error);

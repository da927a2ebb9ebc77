using GanInference.Core.Imaging;
using GanInference.Core.TextGeneration;
using GanInference.Core.Translation;

namespace GanInference.Server.Options;

/// <summary>Request limits, bound from the <c>Limits</c> configuration section; each key is named in the messages of the limit it sets.</summary>
public sealed class ServerLimitsOptions
{
    /// <summary>Configuration section name.</summary>
    public const string SectionName = "Limits";

    public const string MaxImagesPerRequestKey = "Limits:MaxImagesPerRequest";
    public const string MaxImagesPerStreamKey = "Limits:MaxImagesPerStream";
    public const string MaxImagesPerTranslateKey = "Limits:MaxImagesPerTranslate";
    public const string MaxTextsPerRequestKey = "Limits:MaxTextsPerRequest";
    public const string MaxTextLengthKey = "Limits:MaxTextLength";
    public const string MaxInputImagePixelsKey = "Limits:MaxInputImagePixels";
    public const string MaxPixelsPerRequestKey = "Limits:MaxPixelsPerRequest";
    public const string MaxReceiveMessageBytesKey = "Limits:MaxReceiveMessageBytes";
    public const string MaxSendMessageBytesKey = "Limits:MaxSendMessageBytes";
    public const string MaxConcurrentCallsPerConnectionKey = "Limits:MaxConcurrentCallsPerConnection";
    public const string TransportBlockBytesKey = "Limits:TransportBlockBytes";

    /// <summary>Smallest transport block (Kestrel's own block size).</summary>
    public const int MinTransportBlockBytes = 4 * 1024;

    /// <summary>Largest transport block.</summary>
    public const int MaxTransportBlockBytes = 1024 * 1024;

    /// <summary>The default transport block: 64 KiB.</summary>
    public const int DefaultTransportBlockBytes = 64 * 1024;

    /// <summary>Most images one <c>Generate</c> call may ask for (the reply is one message).</summary>
    public int MaxImagesPerRequest { get; set; } = 1024;

    /// <summary>Most images one <c>GenerateStream</c> call may ask for.</summary>
    public int MaxImagesPerStream { get; set; } = 1_000_000;

    /// <summary>Most images one <c>Translate</c> call may carry (<c>TranslateStream</c> is bounded by <see cref="MaxImagesPerStream"/>).</summary>
    public int MaxImagesPerTranslate { get; set; } = 256;

    /// <summary>Most texts (or embedding rows) one <c>GenerateFromText</c> call may carry.</summary>
    public int MaxTextsPerRequest { get; set; } = 256;

    /// <summary>Most characters (UTF-16 code units) one text may have; checked before it is tokenized.</summary>
    public int MaxTextLength { get; set; } = 1000;

    /// <summary>Most pixels (width × height) one uploaded image may have; checked from its header before decoding.</summary>
    public long MaxInputImagePixels { get; set; } = 4096L * 4096L;

    /// <summary>
    /// Most input pixels of all the images of one <c>Translate</c> call together (decoded as floats, 16 Mpx of RGB
    /// is 192 MB); checked from the headers before anything is decoded. Default 64 Mpx (four 4096² images).
    /// </summary>
    public long MaxPixelsPerRequest { get; set; } = 4 * 4096L * 4096L;

    /// <summary>Largest request message accepted, in bytes (explicit latents make requests large).</summary>
    public int MaxReceiveMessageBytes { get; set; } = 16 * 1024 * 1024;

    /// <summary>
    /// Largest reply message sent, in bytes. A unary reply whose worst case (from the image count, size and format)
    /// passes it is refused with RESOURCE_EXHAUSTED before any work; a stream answer, for that image alone.
    /// </summary>
    public int MaxSendMessageBytes { get; set; } = 64 * 1024 * 1024;

    /// <summary>Most concurrent calls (HTTP/2 streams) on one connection; 0 keeps Kestrel's default (100).</summary>
    public int MaxConcurrentCallsPerConnection { get; set; }

    /// <summary>
    /// Bytes of each block of the connections' memory pool, which every pipe segment of the transport and of the
    /// HTTP/2 streams is (<c>Transport/LargeBlockMemoryPool</c>); 0 keeps Kestrel's own pool of 4 KiB blocks. The
    /// default, 64 KiB, holds a 256² RAW image (192 KiB) in 3 segments instead of 48, so the pipes reuse their
    /// segments and a socket send gathers at most 8 of them (512 KiB) without allocating; a block is only held
    /// while data sits in a pipe, so idle connections cost nothing, and each small reply in flight holds one.
    /// </summary>
    public int TransportBlockBytes { get; set; } = DefaultTransportBlockBytes;

    /// <summary>True for 0 or a power of two in <see cref="MinTransportBlockBytes"/>..<see cref="MaxTransportBlockBytes"/>.</summary>
    public static bool IsValidTransportBlockSize(int bytes) =>
        bytes == 0 || (bytes >= MinTransportBlockBytes && bytes <= MaxTransportBlockBytes && int.IsPow2(bytes));

    /// <summary>What a Translate call (gan.v1 or OIP) runs under: these limits, each with its key for messages.</summary>
    public TranslationSettings ToTranslationSettings(ImageEncoding encoding, bool resizeBack) => new(
        encoding, resizeBack, MaxInputImagePixels, MaxInputImagePixelsKey,
        new TranslationBudget(MaxPixelsPerRequest, MaxPixelsPerRequestKey, MaxSendMessageBytes, MaxSendMessageBytesKey));

    /// <summary>What a text-to-image call (gan.v1 or OIP) runs under, with the image limit of its RPC.</summary>
    public TextRequestLimits ToTextLimits(int maxImages, string maxImagesKey) =>
        new(MaxTextsPerRequest, MaxTextLength, maxImages, MaxTextsPerRequestKey, MaxTextLengthKey, maxImagesKey);
}

namespace GanInference.Server.Options;

/// <summary>Request limits, bound from the <c>Limits</c> configuration section.</summary>
public sealed class ServerLimitsOptions
{
    /// <summary>Configuration section name.</summary>
    public const string SectionName = "Limits";

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

    /// <summary>Largest request message accepted, in bytes (explicit latents make requests large).</summary>
    public int MaxReceiveMessageBytes { get; set; } = 16 * 1024 * 1024;

    /// <summary>Largest reply message sent, in bytes.</summary>
    public int MaxSendMessageBytes { get; set; } = 64 * 1024 * 1024;

    /// <summary>
    /// Most calls one client connection may run at once (HTTP/2 <c>SETTINGS_MAX_CONCURRENT_STREAMS</c>); further
    /// calls wait in the client until one finishes, so one client cannot take every slot. 0 keeps Kestrel's default (100).
    /// </summary>
    public int MaxConcurrentCallsPerConnection { get; set; }
}

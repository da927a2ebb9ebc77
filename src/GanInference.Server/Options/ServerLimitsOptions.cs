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

    /// <summary>Largest request message accepted, in bytes (explicit latents make requests large).</summary>
    public int MaxReceiveMessageBytes { get; set; } = 16 * 1024 * 1024;

    /// <summary>Largest reply message sent, in bytes.</summary>
    public int MaxSendMessageBytes { get; set; } = 64 * 1024 * 1024;
}

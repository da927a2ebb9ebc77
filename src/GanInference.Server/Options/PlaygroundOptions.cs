namespace GanInference.Server.Options;

/// <summary>The browser playground and live dashboard (<c>Playground</c> section), served on the HTTP/1.1 listener.</summary>
public sealed class PlaygroundOptions
{
    public const string SectionName = "Playground";

    /// <summary>The configuration key of <see cref="Enabled"/>.</summary>
    public const string EnabledKey = "Playground:Enabled";

    /// <summary>
    /// Serve the playground at <c>/</c> (its files under <c>/playground/</c>) on the <c>Http:Urls</c> listener. Default true;
    /// false answers 404 there. The page calls the server's own REST surface, so API keys apply to what it does.
    /// </summary>
    public bool Enabled { get; set; } = true;
}

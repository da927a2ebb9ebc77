using System.CommandLine;
using GanInference.Client;

namespace GanInference.Cli;

/// <summary>The options every command shares: where the server is and how long a call may take.</summary>
internal sealed class ServerConnection
{
    public const string ServerEnvironmentVariable = "GAN_SERVER";

    public ServerConnection(CliHost host)
    {
        Server = new Option<string>("--server")
        {
            Description = $"Server address (default: ${ServerEnvironmentVariable}, else {GanClientOptions.DefaultAddress})",
            Recursive = true,
            DefaultValueFactory = _ => host.Environment(ServerEnvironmentVariable) is { Length: > 0 } fromEnvironment
                ? fromEnvironment
                : GanClientOptions.DefaultAddress,
        };
        Timeout = CliOptions.Duration("--timeout", "Deadline of each unary call", TimeSpan.FromSeconds(30));
        Timeout.Recursive = true;
    }

    public Option<string> Server { get; }

    public Option<TimeSpan> Timeout { get; }

    public Uri GetAddress(ParseResult parse)
    {
        var text = parse.GetValue(Server)!;
        if (!Uri.TryCreate(text, UriKind.Absolute, out var address) || (address.Scheme != Uri.UriSchemeHttp && address.Scheme != Uri.UriSchemeHttps))
        {
            throw new CliException($"--server: '{text}' is not an http:// or https:// address.");
        }

        return address;
    }

    /// <summary>Client options for this invocation; <paramref name="retries"/> false for load tests, which must see every failure.</summary>
    public GanClientOptions CreateOptions(ParseResult parse, bool retries = true)
    {
        var options = new GanClientOptions
        {
            Address = GetAddress(parse),
            UnaryDeadline = parse.GetValue(Timeout) is { } t && t > TimeSpan.Zero ? t : null,
        };
        if (!retries)
        {
            options.Retry.MaxAttempts = 1;
        }

        return options;
    }

    public GanClient CreateClient(ParseResult parse, bool retries = true) => new(CreateOptions(parse, retries));
}

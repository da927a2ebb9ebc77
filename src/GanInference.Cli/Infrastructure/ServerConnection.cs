using System.CommandLine;
using GanInference.Client;

namespace GanInference.Cli;

/// <summary>The options every command shares: where the server is and how long a call may take.</summary>
internal sealed class ServerConnection
{
    public const string ServerEnvironmentVariable = "GAN_SERVER";
    public const string ApiKeyEnvironmentVariable = "GAN_API_KEY";

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
        Timeout = CliOptions.Duration("--timeout", "Deadline of each unary call: 500ms, 30s, 2m (0 for none)", TimeSpan.FromSeconds(30));
        Timeout.Recursive = true;
        ApiKey = new Option<string?>("--api-key")
        {
            Description = $"Key of a server that requires one, sent as 'authorization: Bearer <key>' (default: ${ApiKeyEnvironmentVariable}; prefer the variable, a command line is visible to other users)",
            Recursive = true,
            DefaultValueFactory = _ => host.Environment(ApiKeyEnvironmentVariable) is { Length: > 0 } fromEnvironment ? fromEnvironment : null,
        };
    }

    public Option<string> Server { get; }

    public Option<TimeSpan> Timeout { get; }

    public Option<string?> ApiKey { get; }

    /// <summary>Where the key came from, for messages: the option when given, else the environment variable.</summary>
    public string ApiKeySource(ParseResult parse) =>
        parse.GetResult(ApiKey) is { Implicit: false } ? "--api-key" : $"${ApiKeyEnvironmentVariable}";

    public bool HasApiKey(ParseResult parse) => parse.GetValue(ApiKey) is { Length: > 0 };

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
            ApiKey = parse.GetValue(ApiKey) is { Length: > 0 } key ? key : null,
        };
        try
        {
            options.Validate();
        }
        catch (ArgumentException) when (options.ApiKey is not null)
        {
            throw new CliException($"{ApiKeySource(parse)}: the API key must not contain spaces or control characters.");
        }

        if (!retries)
        {
            options.Retry.MaxAttempts = 1;
        }

        return options;
    }

    public GanClient CreateClient(ParseResult parse, bool retries = true) => new(CreateOptions(parse, retries));
}

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
        Server = new Option<string[]>("--server")
        {
            HelpName = "url",
            Description = $"Server address; repeat it (or separate with commas) to balance over replicas; dns:///host:port balances over what a name resolves to; unix:///path/to.sock (default: ${ServerEnvironmentVariable}, else {GanClientOptions.DefaultAddress})",
            Recursive = true,
            Arity = ArgumentArity.OneOrMore,
            AllowMultipleArgumentsPerToken = false,
            DefaultValueFactory = _ => [host.Environment(ServerEnvironmentVariable) is { Length: > 0 } fromEnvironment
                ? fromEnvironment
                : GanClientOptions.DefaultAddress],
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

    public Option<string[]> Server { get; }

    public Option<TimeSpan> Timeout { get; }

    public Option<string?> ApiKey { get; }

    /// <summary>Where the key came from, for messages: the option when given, else the environment variable.</summary>
    public string ApiKeySource(ParseResult parse) =>
        parse.GetResult(ApiKey) is { Implicit: false } ? "--api-key" : $"${ApiKeyEnvironmentVariable}";

    public bool HasApiKey(ParseResult parse) => parse.GetValue(ApiKey) is { Length: > 0 };

    /// <summary>The --server values as typed (each repetition, each comma-separated part), for messages.</summary>
    public string ServerText(ParseResult parse) => string.Join(", ", ServerValues(parse));

    private IReadOnlyList<string> ServerValues(ParseResult parse) =>
        [.. (parse.GetValue(Server) ?? []).SelectMany(v => v.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))];

    /// <summary>
    /// The addresses of --server: one http(s)://, dns:/// or unix:/// address, or several http(s):// replicas to balance over.
    /// </summary>
    public IReadOnlyList<Uri> GetAddresses(ParseResult parse)
    {
        var texts = ServerValues(parse);
        if (texts.Count == 0)
        {
            throw new CliException("--server: give an address such as http://127.0.0.1:5000.");
        }

        var addresses = new List<Uri>(texts.Count);
        foreach (var text in texts)
        {
            if (!Uri.TryCreate(text, UriKind.Absolute, out var address) || address.Scheme is not ("http" or "https" or "dns" or "unix"))
            {
                throw new CliException($"--server: '{text}' is not an http://, https://, dns:///host:port or unix:///path/to.sock address.");
            }

            addresses.Add(address);
        }

        if (addresses.Distinct().Count() != addresses.Count)
        {
            throw new CliException($"--server: {ServerText(parse)} names the same address twice; give each replica once.");
        }

        return addresses;
    }

    /// <summary>Client options for this invocation; <paramref name="retries"/> false for load tests, which must see every failure.</summary>
    public GanClientOptions CreateOptions(ParseResult parse, bool retries = true)
    {
        var addresses = GetAddresses(parse);
        var options = new GanClientOptions
        {
            Address = addresses[0],
            Addresses = addresses.Count > 1 ? [.. addresses] : [],
            UnaryDeadline = parse.GetValue(Timeout) is { } t && t > TimeSpan.Zero ? t : null,
            ApiKey = parse.GetValue(ApiKey) is { Length: > 0 } key ? key : null,
        };
        try
        {
            options.Validate();
        }
        catch (ArgumentException e) when (e.ParamName is nameof(GanClientOptions.Address) or nameof(GanClientOptions.Addresses))
        {
            throw new CliException($"--server: {e.Message[(e.Message.IndexOf(':', StringComparison.Ordinal) + 2)..].Replace($" (Parameter '{e.ParamName}')", string.Empty, StringComparison.Ordinal)}");
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

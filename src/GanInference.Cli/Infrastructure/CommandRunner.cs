using System.CommandLine;
using Grpc.Core;

namespace GanInference.Cli;

/// <summary>
/// Runs a command's body and turns every expected failure into one line on stderr and an exit code:
/// an unreachable server names the address, a user error names the field or file, and each message says
/// what to do next.
/// </summary>
internal static class CommandRunner
{
    public static void SetAction(Command command, CliHost host, ServerConnection connection, Func<ParseResult, CancellationToken, Task<int>> body) =>
        command.SetAction((parse, cancellationToken) => RunAsync(parse, host, connection, body, cancellationToken));

    private static async Task<int> RunAsync(
        ParseResult parse, CliHost host, ServerConnection connection, Func<ParseResult, CancellationToken, Task<int>> body, CancellationToken cancellationToken)
    {
        try
        {
            return await body(parse, cancellationToken).ConfigureAwait(false);
        }
        catch (CliException e)
        {
            await host.Error.WriteLineAsync(e.Message).ConfigureAwait(false);
            return e.ExitCode;
        }
        catch (Exception e) when (cancellationToken.IsCancellationRequested && e is OperationCanceledException or RpcException { StatusCode: StatusCode.Cancelled })
        {
            await host.Error.WriteLineAsync("interrupted").ConfigureAwait(false);
            return ExitCodes.Interrupted;
        }
        catch (RpcException e)
        {
            var (message, exitCode) = Explain(e, parse, connection);
            await host.Error.WriteLineAsync(message).ConfigureAwait(false);
            return exitCode;
        }
    }

    /// <summary>One line for a failed call, naming the option that leads somewhere else, and its exit code.</summary>
    internal static (string Message, int ExitCode) Explain(RpcException e, ParseResult parse, ServerConnection connection)
    {
        var server = connection.ServerText(parse);
        var transport = TransportText(e);
        if (transport.Contains("HTTP_1_1_REQUIRED", StringComparison.Ordinal))
        {
            return ($"--server {server} answers HTTP/1.1 only, so it is not the gRPC port (the metrics listener, e.g. :9464, is HTTP/1.1): "
                + $"use the address of the server's gRPC endpoint (its --urls, default {Client.GanClientOptions.DefaultAddress}).", ExitCodes.ServerUnreachable);
        }

        if (server?.StartsWith("https://", StringComparison.OrdinalIgnoreCase) == true
            && (transport.Contains("SSL", StringComparison.Ordinal) || transport.Contains("corrupted frame", StringComparison.Ordinal) || transport.Contains("TLS", StringComparison.Ordinal)))
        {
            return ($"--server {server}: the TLS handshake failed ({Root(e)}); a server without TLS is reached with http:// "
                + $"(try --server http://{server["https://".Length..]}), one with a certificate the system does not trust needs that certificate installed.",
                ExitCodes.ServerUnreachable);
        }

        return e.StatusCode switch
        {
            StatusCode.Unavailable => ($"cannot reach the GAN server at {server}: {Root(e)}", ExitCodes.ServerUnreachable),
            StatusCode.DeadlineExceeded => ($"no answer from {server} within the deadline of {FormatDuration(parse.GetValue(connection.Timeout))} "
                + "(--timeout, the deadline of each call): give a longer one, e.g. --timeout 2m, or --timeout 0 for none.", ExitCodes.Failure),
            StatusCode.Unauthenticated when connection.HasApiKey(parse) =>
                ($"the server at {server} refused the API key from {connection.ApiKeySource(parse)} ({e.Status.Detail}): check the key with the server's operator.", ExitCodes.Unauthenticated),
            StatusCode.Unauthenticated =>
                ($"the server at {server} requires an API key: set ${ServerConnection.ApiKeyEnvironmentVariable} (or pass --api-key KEY) to a key its operator gave you.", ExitCodes.Unauthenticated),
            StatusCode.PermissionDenied =>
                ($"the server at {server} answered PermissionDenied: {e.Status.Detail} (the API key from {connection.ApiKeySource(parse)} may not allow this call).", ExitCodes.Unauthenticated),
            StatusCode.InvalidArgument or StatusCode.ResourceExhausted when ServerLimit(e.Status.Detail) is { } limit =>
                ($"the server at {server} answered {e.StatusCode}: {e.Status.Detail}. {limit} is a setting of the server, not of gan: "
                + "ask for fewer images per command (split the run, e.g. --seed 0 --count N, then --seed N --count N), or ask the server's operator to raise it.", ExitCodes.Failure),
            _ => ($"the server at {server} answered {e.StatusCode}: {ServerMessages.Rewrite(e.Status.Detail)}", ExitCodes.Failure),
        };
    }

    /// <summary>The configuration key a server message names, e.g. "Limits:MaxImagesPerStream".</summary>
    private static string? ServerLimit(string detail)
    {
        var start = detail.IndexOf("(Limits:", StringComparison.Ordinal);
        if (start < 0)
        {
            return null;
        }

        var end = detail.IndexOf(')', start);
        return end < 0 ? null : detail[(start + 1)..end];
    }

    /// <summary>A duration as the options take it: 500ms, 30s, 2m.</summary>
    internal static string FormatDuration(TimeSpan duration) => duration switch
    {
        { Ticks: 0 } => "0",
        { TotalSeconds: < 1 } => FormattableString.Invariant($"{duration.TotalMilliseconds:0.###}ms"),
        { TotalMinutes: < 1 } => FormattableString.Invariant($"{duration.TotalSeconds:0.###}s"),
        _ => FormattableString.Invariant($"{duration.TotalMinutes:0.###}m"),
    };

    /// <summary>The root cause of a transport failure ("Connection refused"), not gRPC's wrapper text.</summary>
    private static string Root(RpcException e)
    {
        var inner = e.Status.DebugException;
        while (inner?.InnerException is not null)
        {
            inner = inner.InnerException;
        }

        return inner?.Message ?? e.Status.Detail;
    }

    /// <summary>Every message in the failure's chain, to recognise what answered at the address.</summary>
    private static string TransportText(RpcException e)
    {
        var parts = new List<string> { e.Status.Detail };
        for (var inner = e.Status.DebugException; inner is not null; inner = inner.InnerException)
        {
            parts.Add(inner.Message);
        }

        return string.Join(" | ", parts);
    }
}

/// <summary>Server messages whose advice is phrased for gRPC programmers, rewritten for the CLI user.</summary>
internal static class ServerMessages
{
    private const string RawHint = "use RAW_U8 or RAW_F32 for pixels";

    public static string Rewrite(string message) =>
        message.Replace(RawHint, "convert the file to PNG or JPEG (gan sends image files as they are)", StringComparison.Ordinal);
}

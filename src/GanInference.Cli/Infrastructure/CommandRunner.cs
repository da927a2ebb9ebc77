using System.CommandLine;
using Grpc.Core;

namespace GanInference.Cli;

/// <summary>
/// Runs a command's body and turns every expected failure into one line on stderr and an exit code:
/// an unreachable server names the address, a user error names the field or file.
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
        catch (RpcException e) when (e.StatusCode == StatusCode.Unavailable)
        {
            await host.Error.WriteLineAsync($"cannot reach the GAN server at {parse.GetValue(connection.Server)}: {Describe(e)}").ConfigureAwait(false);
            return ExitCodes.ServerUnreachable;
        }
        catch (Exception e) when (cancellationToken.IsCancellationRequested && e is OperationCanceledException or RpcException { StatusCode: StatusCode.Cancelled })
        {
            await host.Error.WriteLineAsync("interrupted").ConfigureAwait(false);
            return ExitCodes.Interrupted;
        }
        catch (RpcException e)
        {
            await host.Error.WriteLineAsync($"the server at {parse.GetValue(connection.Server)} answered {e.StatusCode}: {e.Status.Detail}").ConfigureAwait(false);
            return ExitCodes.Failure;
        }
    }

    /// <summary>The root cause of a transport failure ("Connection refused"), not gRPC's wrapper text.</summary>
    private static string Describe(RpcException e)
    {
        var inner = e.Status.DebugException;
        while (inner?.InnerException is not null)
        {
            inner = inner.InnerException;
        }

        return inner?.Message ?? e.Status.Detail;
    }
}

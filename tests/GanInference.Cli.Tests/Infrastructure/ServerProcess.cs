using System.Diagnostics;
using GanInference.Client;

namespace GanInference.Cli.Tests;

/// <summary>
/// The server as a child process (the built GanInference.Server.dll next to the tests), for tests that
/// kill and restart it. In-process hosts cannot do that cleanly: their OpenTelemetry pipelines all listen
/// to every meter named "GanInference" in the process, so a second host disturbs the first one's metrics.
/// </summary>
internal sealed class ServerProcess : IAsyncDisposable
{
    private readonly Process _process;

    private ServerProcess(Process process, string address)
    {
        _process = process;
        Address = address;
    }

    public string Address { get; }

    public static async Task<ServerProcess> StartAsync(int port, string modelsPath)
    {
        var address = $"http://127.0.0.1:{port}";
        var start = new ProcessStartInfo("dotnet")
        {
            ArgumentList = { Path.Combine(AppContext.BaseDirectory, "GanInference.Server.dll"), "--urls", address, $"--Models:Path={modelsPath}", "--Http:Urls=" },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        var process = Process.Start(start) ?? throw new InvalidOperationException("could not start the server process.");
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var server = new ServerProcess(process, address);

        using var client = new GanClient(new GanClientOptions { Address = new Uri(address) });
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            try
            {
                if ((await client.ListModelsAsync()).Count >= 2)
                {
                    return server;
                }
            }
            catch (Grpc.Core.RpcException) when (DateTime.UtcNow < deadline && !process.HasExited)
            {
                // Still starting.
            }

            if (DateTime.UtcNow > deadline || process.HasExited)
            {
                await server.DisposeAsync();
                throw new InvalidOperationException($"the server process at {address} did not serve both models (exited: {process.HasExited}).");
            }

            await Task.Delay(100);
        }
    }

    /// <summary>Ends the process abruptly (SIGKILL), as a crash would.</summary>
    public async Task KillAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }

        await _process.WaitForExitAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await KillAsync();
        _process.Dispose();
    }
}

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

    private ServerProcess(Process process, string address, string? httpAddress)
    {
        _process = process;
        Address = address;
        HttpAddress = httpAddress;
    }

    public string Address { get; }

    /// <summary>The HTTP/1.1 listener (<c>/metrics</c>) when started with one.</summary>
    public string? HttpAddress { get; }

    public bool HasExited => _process.HasExited;

    /// <param name="port">The gRPC port.</param>
    /// <param name="modelsPath">The model repository.</param>
    /// <param name="httpPort">The HTTP/1.1 listener's port (<c>/metrics</c>); none when null.</param>
    /// <param name="settings">More <c>--Key=value</c> settings.</param>
    public static async Task<ServerProcess> StartAsync(int port, string modelsPath, int? httpPort = null, params string[] settings)
    {
        var address = $"http://127.0.0.1:{port}";
        var httpAddress = httpPort is { } h ? $"http://127.0.0.1:{h}" : null;
        var start = new ProcessStartInfo("dotnet")
        {
            ArgumentList = { Path.Combine(AppContext.BaseDirectory, "GanInference.Server.dll"), "--urls", address, $"--Models:Path={modelsPath}", $"--Http:Urls={httpAddress}", "--Models:Profiling:MillisecondsPerSize=5" },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var setting in settings)
        {
            start.ArgumentList.Add(setting);
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException("could not start the server process.");
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var server = new ServerProcess(process, address, httpAddress);

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

    /// <summary>Asks the process to stop (SIGTERM), as Kubernetes does when it deletes a pod: the server drains and exits.</summary>
    public Task TerminateAsync() => SignalAsync("TERM");

    /// <summary>Freezes the process (SIGSTOP): its connections stay open, it answers nothing until <see cref="ResumeAsync"/>.</summary>
    public Task PauseAsync() => SignalAsync("STOP");

    /// <summary>Lets a paused process run again (SIGCONT).</summary>
    public Task ResumeAsync() => SignalAsync("CONT");

    private async Task SignalAsync(string signal)
    {
        if (_process.HasExited)
        {
            return;
        }

        // bash's built-in kill: a minimal Debian has bash but not necessarily procps' kill binary.
        using var kill = Process.Start(new ProcessStartInfo("bash") { ArgumentList = { "-c", $"kill -{signal} {_process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)}" } })!;
        await kill.WaitForExitAsync();
        if (kill.ExitCode != 0 && !_process.HasExited)
        {
            throw new InvalidOperationException($"kill -{signal} {_process.Id} exited with {kill.ExitCode}.");
        }
    }

    public Task WaitForExitAsync(CancellationToken cancellationToken) => _process.WaitForExitAsync(cancellationToken);

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

using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using GanInference.Tests.Shared;

namespace GanInference.Playground.Tests.Infrastructure;

/// <summary>
/// The server as a child process (the built GanInference.Server.dll next to the tests) on two loopback ports: gRPC and
/// the HTTP/1.1 listener that serves the playground. A process, so a test can kill it mid-request as a crash would.
/// </summary>
internal sealed class ServerProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _log = new();

    private ServerProcess(Process process, int grpcPort, int httpPort)
    {
        _process = process;
        GrpcAddress = $"http://127.0.0.1:{grpcPort}";
        HttpAddress = $"http://127.0.0.1:{httpPort}";
    }

    /// <summary>gRPC (h2c), e.g. http://127.0.0.1:41234.</summary>
    public string GrpcAddress { get; }

    /// <summary>The HTTP/1.1 listener: the playground at <c>/</c>, <c>/v1/...</c>, <c>/metrics</c>.</summary>
    public string HttpAddress { get; }

    public bool HasExited => _process.HasExited;

    public string Log
    {
        get
        {
            lock (_log)
            {
                return _log.ToString();
            }
        }
    }

    /// <summary>Starts the server on <paramref name="modelsPath"/> and waits until it lists at least <paramref name="minModels"/> models.</summary>
    public static async Task<ServerProcess> StartAsync(string modelsPath, int minModels, string? apiKey = null, params string[] extraArgs)
    {
        var grpcPort = LoopbackPorts.Free();
        var httpPort = LoopbackPorts.Free();
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = Repository.Root,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in (string[])
        [
            Path.Combine(AppContext.BaseDirectory, "GanInference.Server.dll"),
            $"--urls=http://127.0.0.1:{grpcPort}",
            $"--Http:Urls=http://127.0.0.1:{httpPort}",
            $"--Models:Path={modelsPath}",
            "--Models:Watch=false",
            "--Inference:IntraOpThreads=1",
            "--Models:Profiling:MillisecondsPerSize=5",
            "--Logging:LogLevel:Default=Warning",
            .. extraArgs,
        ])
        {
            start.ArgumentList.Add(argument);
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException("could not start the server process.");
        var server = new ServerProcess(process, grpcPort, httpPort);
        process.OutputDataReceived += (_, e) => server.Append(e.Data);
        process.ErrorDataReceived += (_, e) => server.Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        if (apiKey is not null)
        {
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        }

        var deadline = DateTime.UtcNow.AddSeconds(90);
        while (true)
        {
            try
            {
                using var response = await http.GetAsync($"{server.HttpAddress}/v1/models");
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
                    var count = json.RootElement.TryGetProperty("models", out var models) ? models.GetArrayLength() : 0;
                    if (count >= minModels)
                    {
                        return server;
                    }
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
            {
                // Still starting.
            }

            if (DateTime.UtcNow > deadline || process.HasExited)
            {
                var log = server.Log;
                await server.DisposeAsync();
                throw new InvalidOperationException($"the server process at {server.HttpAddress} did not list {minModels} models (exited: {process.HasExited}). Its output:\n{log}");
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

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_log)
        {
            _log.AppendLine(line);
        }
    }
}

/// <summary>Paths in the repository the tests run from.</summary>
internal static class Repository
{
    public static string Root { get; } = FindRoot();

    public static string Models => Path.Combine(Root, "models");

    /// <summary>The `gan` CLI as its own project built it (same configuration as these tests), with its own dependencies.</summary>
    public static string CliDll
    {
        get
        {
            var framework = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
            var path = Path.Combine(Root, "src", "GanInference.Cli", "bin", framework.Parent!.Name, framework.Name, "gan.dll");
            return File.Exists(path) ? path : throw new InvalidOperationException($"the gan CLI is not built at {path}");
        }
    }

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "GanInference.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"no GanInference.sln above {AppContext.BaseDirectory}");
    }
}

using System.Diagnostics;
using GanInference.Tests.TestModels;

namespace GanInference.Server.Tests;

/// <summary>The real server binary refusing its configuration: one line on stderr naming the key, exit code 2, no stack trace.</summary>
public sealed class StartupProcessTests
{
    [Theory]
    [InlineData("--Inference:ExecutionProvider=cuda", "built with the CPU package of ONNX Runtime")]
    [InlineData("--Shutdown:DrainTimeoutSeconds=-1", "Shutdown:DrainTimeoutSeconds is -1")]
    [InlineData("--Http:Urls=localhost-8000", "Http:Urls: 'localhost-8000' is not an address to listen on")]
    public async Task A_refused_configuration_exits_2_with_one_line_and_no_stack_trace(string argument, string expected)
    {
        using var models = new TinyGanModels();
        models.AddUnconditional("m");
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = models.Root,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[] { Path.Combine(AppContext.BaseDirectory, "GanInference.Server.dll"), "--urls", "http://127.0.0.1:0", "--Http:Urls=", $"--Models:Path={models.Root}", "--Models:Watch=false", argument })
        {
            start.ArgumentList.Add(arg);
        }

        using var server = Process.Start(start)!;
        var stdout = server.StandardOutput.ReadToEndAsync();
        var stderr = await server.StandardError.ReadToEndAsync();
        await server.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        var output = await stdout + stderr;

        Assert.Equal(2, server.ExitCode);
        Assert.Contains(expected, stderr);
        Assert.Single(output.Split('\n'), line => line.Contains(expected, StringComparison.Ordinal));
        Assert.DoesNotContain("   at ", output);
    }
}

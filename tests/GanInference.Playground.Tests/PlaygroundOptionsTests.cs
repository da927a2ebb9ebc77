using System.Diagnostics;
using GanInference.Playground.Tests.Infrastructure;

namespace GanInference.Playground.Tests;

/// <summary><c>Playground:Enabled</c> is checked at start like every other option.</summary>
public sealed class PlaygroundOptionsTests
{
    [Theory]
    [InlineData("maybe")]
    [InlineData("2")]
    public async Task A_value_that_is_not_a_boolean_stops_the_server_with_exit_code_2_and_one_line_naming_the_key(string value)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = Repository.Root,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[] { Path.Combine(AppContext.BaseDirectory, "GanInference.Server.dll"), "--urls=http://127.0.0.1:0", "--Http:Urls=http://127.0.0.1:0", $"--Playground:Enabled={value}" })
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);

        var lines = (await error).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(process.ExitCode == 2, $"exit {process.ExitCode}\nstdout:\n{await output}\nstderr:\n{await error}");
        var line = Assert.Single(lines);
        Assert.StartsWith("gan-server: configuration refused:", line, StringComparison.Ordinal);
        Assert.Contains("Playground:Enabled", line, StringComparison.Ordinal);
        Assert.Contains($"'{value}'", line, StringComparison.Ordinal);
    }
}

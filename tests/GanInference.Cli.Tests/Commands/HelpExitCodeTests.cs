namespace GanInference.Cli.Tests.Commands;

/// <summary>`gan CMD --help` prints the help and exits 0, also for commands with required options (the docs check
/// validates documented flags against it). No server is needed: help never connects.</summary>
public sealed class HelpExitCodeTests
{
    [Theory]
    [InlineData("dataset")]
    [InlineData("generate")]
    [InlineData("translate")]
    [InlineData("bench")]
    [InlineData("models")]
    public async Task Help_exits_0_even_where_the_command_has_required_options(string command)
    {
        var result = await CliRun.InvokeAsync(command, "--help");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("Usage:", result.Output);
        Assert.DoesNotContain("is required", result.Error);
    }

    [Fact]
    public async Task A_missing_required_option_without_help_is_still_bad_input()
    {
        var result = await CliRun.InvokeAsync("dataset", "--model", "cdcgan-mnist");

        Assert.Equal(2, result.ExitCode);
    }
}

using GanInference.Tests.Shared;

namespace GanInference.Cli.Tests.Commands;

[Collection(ServerCollection.Name)]
public sealed class ModelsAndErrorsTests(ServerFixture server)
{
    [Fact]
    public async Task Models_lists_every_model_with_kind_size_and_classes()
    {
        var result = await CliRun.InvokeAsync("models", "--server", server.Address);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains(TinyModels.Conditional, result.Output);
        Assert.Contains(TinyModels.Unconditional, result.Output);
        Assert.Contains("class-conditional", result.Output);
        Assert.Contains("8x8x1", result.Output);
        Assert.Contains("8x8x3", result.Output);
        Assert.Contains("10: 0,1,2,3,4,5,6,7,8,9", result.Output);
        Assert.Contains("sha256:", result.Output);
    }

    [Fact]
    public async Task Unreachable_server_is_one_line_naming_the_address()
    {
        var address = $"http://127.0.0.1:{LoopbackPorts.Free()}";

        var result = await CliRun.InvokeAsync("models", "--server", address);

        Assert.Equal(ExitCodes.ServerUnreachable, result.ExitCode);
        var line = Assert.Single(result.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith($"cannot reach the GAN server at {address}", line);
    }

    [Fact]
    public async Task Server_address_comes_from_GAN_SERVER_when_not_given()
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var host = CliHost.ForWriters(output, error, name => name == "GAN_SERVER" ? server.Address : null);

        var exitCode = await GanCli.InvokeAsync(["models"], host);

        Assert.True(exitCode == 0, error.ToString());
        Assert.Contains(TinyModels.Conditional, output.ToString());
    }

    [Fact]
    public async Task Unknown_model_answers_with_the_list_of_models()
    {
        using var folder = new TempFolder();

        var result = await CliRun.InvokeAsync("generate", "--server", server.Address, "--model", "no-such-model", "--out", folder.Path);

        Assert.Equal(ExitCodes.UnknownModel, result.ExitCode);
        Assert.Contains("unknown model 'no-such-model'", result.Error);
        Assert.Contains($"{TinyModels.Conditional} (class-conditional)", result.Error);
        Assert.Contains($"{TinyModels.Unconditional} (unconditional)", result.Error);
        Assert.Empty(Directory.EnumerateFileSystemEntries(folder.Path));
    }

    [Fact]
    public async Task Label_out_of_range_is_rejected_naming_the_option()
    {
        using var folder = new TempFolder();

        var result = await CliRun.InvokeAsync("generate", "--server", server.Address, "--model", TinyModels.Conditional, "--labels", "12", "--out", folder.Path);

        Assert.Equal(ExitCodes.BadInput, result.ExitCode);
        Assert.StartsWith("--labels: '12'", result.Error);
    }
}

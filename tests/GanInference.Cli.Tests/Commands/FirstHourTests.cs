using System.Text.Json;
using GanInference.Cli.Imaging;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Logging;

namespace GanInference.Cli.Tests.Commands;

/// <summary>
/// The natural mistakes of a new user (issue 18): each one answered with a message that names the option and
/// says what to do next, and nothing written or left behind that the user did not ask for.
/// </summary>
[Collection(ServerCollection.Name)]
public sealed class FirstHourTests(ServerFixture server)
{
    [Fact]
    public async Task Generate_count_0_is_refused_like_dataset_and_bench()
    {
        using var folder = new TempFolder();

        var result = await CliRun.InvokeAsync("generate", "--server", server.Address, "--model", TinyModels.Unconditional, "--count", "0", "--out", folder.Path);

        Assert.Equal(ExitCodes.BadInput, result.ExitCode);
        Assert.StartsWith("--count must be at least 1, not 0", result.Error);
        Assert.Empty(Directory.EnumerateFileSystemEntries(folder.Path));
    }

    [Fact]
    public async Task An_ellipsis_in_labels_is_named_and_a_count_mismatch_says_how_labels_default()
    {
        using var folder = new TempFolder();

        var ellipsis = await CliRun.InvokeAsync("generate", "--server", server.Address, "--model", TinyModels.Conditional, "--labels", "0,1,...,9", "--out", folder.Path);
        var mismatch = await CliRun.InvokeAsync("generate", "--server", server.Address, "--model", TinyModels.Conditional, "--count", "3", "--labels", "1,2", "--out", folder.Path);

        Assert.Equal(ExitCodes.BadInput, ellipsis.ExitCode);
        Assert.StartsWith("--labels: '...' is neither a class", ellipsis.Error);
        Assert.Equal(ExitCodes.BadInput, mismatch.ExitCode);
        Assert.Contains("one per image (3 with this --count/--seeds), not 2", mismatch.Error);
        Assert.Contains("image i gets class seed mod classes", mismatch.Error);
    }

    [Fact]
    public async Task A_passed_deadline_says_so_and_names_timeout()
    {
        var result = await CliRun.InvokeAsync("models", "--server", server.Address, "--timeout", "0.001ms");

        Assert.Equal(ExitCodes.Failure, result.ExitCode);
        Assert.Contains("within the deadline of", result.Error);
        Assert.Contains("--timeout", result.Error);
        Assert.Contains("--timeout 0 for none", result.Error);
    }

    [Fact]
    public async Task An_http1_only_address_is_recognised_as_not_the_grpc_port()
    {
        // What a user reaches with --server pointing at the metrics listener: Kestrel serving HTTP/1.1 only.
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(System.Net.IPAddress.Loopback, 0, l => l.Protocols = HttpProtocols.Http1));
        await using var app = builder.Build();
        app.MapGet("/metrics", () => Results.Text("# metrics\n"));
        await app.StartAsync();
        var address = app.Urls.First();

        var result = await CliRun.InvokeAsync("models", "--server", address);

        Assert.Equal(ExitCodes.ServerUnreachable, result.ExitCode);
        var line = Assert.Single(result.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith($"--server {address} answers HTTP/1.1 only, so it is not the gRPC port", line);
        Assert.DoesNotContain("Internal", line);
    }

    [Fact]
    public async Task An_https_address_of_a_server_without_tls_says_to_use_http()
    {
        var https = "https://" + server.Address["http://".Length..];

        var result = await CliRun.InvokeAsync("models", "--server", https);

        Assert.Equal(ExitCodes.ServerUnreachable, result.ExitCode);
        var line = Assert.Single(result.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith($"--server {https}: the TLS handshake failed", line);
        Assert.Contains($"try --server {server.Address}", line);
    }

    [Fact]
    public async Task A_server_limit_says_what_the_user_can_do()
    {
        using var folder = new TempFolder();

        var result = await CliRun.InvokeAsync("generate", "--server", server.Address, "--model", TinyModels.Unconditional, "--count", "10000000", "--out", folder.Path);

        Assert.Equal(ExitCodes.Failure, result.ExitCode);
        Assert.Contains("(Limits:MaxImagesPerStream)", result.Error);
        Assert.Contains("Limits:MaxImagesPerStream is a setting of the server, not of gan", result.Error);
        Assert.Contains("split the run", result.Error);
        Assert.Contains("ask the server's operator to raise it", result.Error);
    }

    [Fact]
    public async Task A_huge_grid_is_refused_before_any_request_and_leaves_nothing()
    {
        using var folder = new TempFolder();
        var sheet = folder.Combine("new", "sheet.png");

        var result = await CliRun.InvokeAsync("generate", "--server", server.Address, "--model", TinyModels.Unconditional, "--count", "1000000", "--grid", sheet);

        Assert.Equal(ExitCodes.BadInput, result.ExitCode);
        Assert.StartsWith("--grid: 1,000,000 images of 8x8", result.Error);
        Assert.Contains("use --out FOLDER", result.Error);
        Assert.False(Directory.Exists(folder.Combine("new")));
    }

    [Fact]
    public async Task A_grid_named_jpg_is_a_jpeg_and_other_names_are_refused()
    {
        using var folder = new TempFolder();

        var jpeg = await CliRun.InvokeAsync("generate", "--server", server.Address, "--model", TinyModels.Unconditional, "--count", "4", "--seed", "1", "--grid", folder.Combine("sheet.jpg"));
        var gif = await CliRun.InvokeAsync("generate", "--server", server.Address, "--model", TinyModels.Unconditional, "--count", "4", "--grid", folder.Combine("sheet.gif"));

        Assert.True(jpeg.ExitCode == 0, jpeg.ToString());
        var bytes = File.ReadAllBytes(folder.Combine("sheet.jpg"));
        Assert.Equal([0xFF, 0xD8, 0xFF], bytes[..3]);
        Assert.Equal(ExitCodes.BadInput, gif.ExitCode);
        Assert.StartsWith("--grid: '", gif.Error);
        Assert.Contains("must end in .png or .jpg/.jpeg", gif.Error);
        Assert.False(File.Exists(folder.Combine("sheet.gif")));
    }

    [Fact]
    public async Task A_failed_generate_leaves_no_empty_output_folder()
    {
        using var folder = new TempFolder();

        var result = await CliRun.InvokeAsync("generate", "--server", server.Address, "--model", "no-such-model", "--out", folder.Combine("new", "out"));

        Assert.Equal(ExitCodes.UnknownModel, result.ExitCode);
        Assert.False(Directory.Exists(folder.Combine("new")));
    }

    [Fact]
    public async Task A_failed_bench_leaves_no_empty_report_folder()
    {
        using var folder = new TempFolder();

        var result = await CliRun.InvokeAsync("bench", "--server", server.Address, "--model", "no-such-model", "--json", folder.Combine("reports", "run.json"), "--duration", "1s");

        Assert.Equal(ExitCodes.UnknownModel, result.ExitCode);
        Assert.False(Directory.Exists(folder.Combine("reports")));
    }

    [Fact]
    public async Task Models_NAME_shows_one_model_in_full()
    {
        var result = await CliRun.InvokeAsync("models", TinyModels.Conditional, "--server", server.Address);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("class-conditional", result.Output);
        Assert.Contains("10: 0, 1, 2, 3, 4, 5, 6, 7, 8, 9", result.Output);
        Assert.Contains("max batch 16", result.Output);
        Assert.Contains("z: latent, float32 [-1, 8]", result.Output);
        Assert.Contains($"gan generate --model {TinyModels.Conditional}", result.Output);

        var unknown = await CliRun.InvokeAsync("models", "nope", "--server", server.Address);
        Assert.Equal(ExitCodes.UnknownModel, unknown.ExitCode);
        Assert.Contains("available models:", unknown.Error);
    }

    [Fact]
    public async Task Models_json_is_the_servers_answer_as_json()
    {
        var all = await CliRun.InvokeAsync("models", "--json", "--server", server.Address);
        var one = await CliRun.InvokeAsync("models", TinyModels.Unconditional, "--json", "--server", server.Address);

        Assert.True(all.ExitCode == 0, all.ToString());
        using var list = JsonDocument.Parse(all.Output);
        var names = list.RootElement.GetProperty("models").EnumerateArray().Select(m => m.GetProperty("name").GetString()).ToArray();
        Assert.Contains(TinyModels.Conditional, names);
        Assert.Contains(TinyModels.Unconditional, names);
        Assert.True(one.ExitCode == 0, one.ToString());
        using var model = JsonDocument.Parse(one.Output);
        Assert.Equal(TinyModels.Unconditional, model.RootElement.GetProperty("name").GetString());
        Assert.Equal(8, model.RootElement.GetProperty("latentDim").GetInt32());
        Assert.StartsWith("sha256:", model.RootElement.GetProperty("contentHash").GetString());
    }

    [Fact]
    public async Task Help_shows_defaults_as_the_options_take_them()
    {
        var bench = await CliRun.InvokeAsync("bench", "--help");
        var generate = await CliRun.InvokeAsync("generate", "--help");

        Assert.Contains("[default: 30s]", bench.Output);
        Assert.Contains("[default: 5s]", bench.Output);
        Assert.Contains("[default: png]", bench.Output);
        Assert.Contains("[default: 1,8,32,64]", bench.Output);
        Assert.Contains("--spinning", bench.Output);
        Assert.DoesNotContain("00:00:", bench.Output);
        Assert.DoesNotContain("Png", bench.Output);
        Assert.DoesNotContain("1|8", bench.Output);
        Assert.Contains("--api-key", generate.Output);
        Assert.Contains("[default: png]", generate.Output);
    }

    [Fact]
    public async Task In_process_cuda_on_a_cpu_build_is_one_line_in_gans_own_options()
    {
        var result = await CliRun.InvokeAsync("bench", "--in-process", "--model-dir", Path.Combine(server.ModelsPath, TinyModels.Unconditional), "--provider", "cuda", "--duration", "1s", "--warmup", "0s");

        Assert.Equal(ExitCodes.BadInput, result.ExitCode);
        var line = Assert.Single(result.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("--provider cuda: not available in this build of gan", line);
        Assert.Contains("use --provider cpu", line);
        Assert.DoesNotContain("Inference:AllowCpuFallback", line);
    }

    [Fact]
    public async Task Truncation_8_66_is_plain_normal_as_determinism_md_says()
    {
        // docs/determinism.md: no normal of the stream exceeds 8.6521, so t = 8.66 rejects nothing.
        using var folder = new TempFolder();
        var plain = await CliRun.InvokeAsync("generate", "--server", server.Address, "--model", TinyModels.Unconditional, "--seeds", "0..31", "--format", "png", "--out", folder.Combine("plain"));
        var wide = await CliRun.InvokeAsync("generate", "--server", server.Address, "--model", TinyModels.Unconditional, "--seeds", "0..31", "--truncation", "8.66", "--out", folder.Combine("wide"));

        Assert.True(plain.ExitCode == 0 && wide.ExitCode == 0, plain + "\n" + wide);
        foreach (var file in Directory.GetFiles(folder.Combine("plain")))
        {
            Assert.Equal(File.ReadAllBytes(file), File.ReadAllBytes(Path.Combine(folder.Combine("wide"), Path.GetFileName(file))));
        }
    }

    [Fact]
    public void Contact_sheet_limits_are_checked_from_the_request_alone()
    {
        ContactSheet.CheckSize(ContactSheet.MaxImages, 8, 8, 1);
        Assert.Throws<CliException>(() => ContactSheet.CheckSize(ContactSheet.MaxImages + 1, 8, 8, 1));
        Assert.Throws<CliException>(() => ContactSheet.CheckSize(100, 1024, 1024, 1));
    }
}

using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text.Json;
using GanInference.Api.V1;

namespace GanInference.Server.Tests.OpenInference;

/// <summary>
/// An independent client: a Python program whose gRPC stubs Debian's <c>protoc</c> and <c>python3-grpc-tools</c>
/// generate here, from protos/inference, drives the OIP gRPC surface; the same program drives REST with urllib.
/// The packages come from tools/ci/checks/oip-proto.sh (run first by tools/test.sh, README's test command).
/// </summary>
[Collection(OipCollection.Name)]
public sealed class OipPythonClientTests(OipFixture fixture)
{
    [Fact]
    public async Task A_client_generated_from_the_proto_by_Debians_tools_gets_the_pixels_of_gan_v1_over_gRPC_and_REST()
    {
        var repository = RepositoryRoot();
        var generated = Directory.CreateTempSubdirectory("oip-python-").FullName;
        try
        {
            await Run("protoc", ["-I" + Path.Combine(repository, "protos"), "--python_out=" + generated, "inference/grpc_service.proto", "inference/model_config.proto"], repository);
            await Run("/usr/bin/python3", ["-m", "grpc_tools.protoc", "-I" + Path.Combine(repository, "protos"), "--grpc_python_out=" + generated, "inference/grpc_service.proto"], repository);
            var target = new Uri(fixture.Server.Address);
            var output = await Run("/usr/bin/python3", [Path.Combine(SourceFolder(), "oip_client.py"), generated, $"{target.Host}:{target.Port}", fixture.Server.HttpAddress], repository);

            var gan = await fixture.Gan.GenerateAsync(new GenerateRequest { Model = OipFixture.Conditional, Seeds = { 21, 22, 23 }, Labels = { 2, 0, 1 }, Format = ImageFormat.RawU8 });
            var expected = Convert.ToHexStringLower(SHA256.HashData(gan.Images.SelectMany(i => i.Data.ToByteArray()).ToArray()));
            var seen = JsonDocument.Parse(output).RootElement;
            Assert.True(seen.GetProperty("live").GetBoolean());
            Assert.True(seen.GetProperty("ready").GetBoolean());
            Assert.Contains("statistics", seen.GetProperty("extensions").EnumerateArray().Select(e => e.GetString()));
            Assert.Equal(["seed UINT64 [-1]", "latent FP32 [-1, 8]", "label INT32 [-1]"], seen.GetProperty("inputs").EnumerateArray().Select(e => e.GetString()));
            Assert.True(seen.GetProperty("max_batch_size").GetInt32() > 0);
            Assert.Contains(OipFixture.Pipeline, seen.GetProperty("index").EnumerateArray().Select(e => e.GetString()));
            Assert.Equal("py", seen.GetProperty("grpc_id").GetString());
            Assert.Equal([3, 8, 8, 3], seen.GetProperty("grpc_shape").EnumerateArray().Select(e => e.GetInt32()));
            Assert.Equal(expected, seen.GetProperty("grpc_image_sha256").GetString());
            Assert.Equal("NOT_FOUND", seen.GetProperty("grpc_unknown_model").GetString());
            Assert.True(seen.GetProperty("stats_success").GetInt32() >= 1);
            Assert.Equal(200, seen.GetProperty("rest_ready").GetInt32());
            Assert.Equal(200, seen.GetProperty("rest_json_status").GetInt32());
            Assert.Equal(expected, seen.GetProperty("rest_json_image_sha256").GetString());
            Assert.Equal(200, seen.GetProperty("rest_binary_status").GetInt32());
            Assert.Equal(expected, seen.GetProperty("rest_binary_image_sha256").GetString());
            Assert.Equal("[400,true]", seen.GetProperty("rest_malformed").GetRawText().Replace(" ", string.Empty, StringComparison.Ordinal));
        }
        finally
        {
            Directory.Delete(generated, recursive: true);
        }
    }

    private static async Task<string> Run(string file, string[] arguments, string workingDirectory)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = workingDirectory };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        Process process;
        try
        {
            process = Process.Start(start)!;
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new InvalidOperationException($"{file} is not installed: run tools/test.sh (README's test command), whose tools/ci/checks/oip-proto.sh installs protobuf-compiler, python3-grpcio and python3-grpc-tools", ex);
        }

        using (process)
        {
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
            await process.WaitForExitAsync(timeout.Token);
            Assert.True(process.ExitCode == 0, $"{file} {string.Join(' ', arguments)} exited with {process.ExitCode}:\n{await stderr}\n{await stdout}");
            return await stdout;
        }
    }

    private static string SourceFolder([CallerFilePath] string path = "") => Path.GetDirectoryName(path)!;

    private static string RepositoryRoot()
    {
        var folder = new DirectoryInfo(SourceFolder());
        while (folder is not null && !Directory.Exists(Path.Combine(folder.FullName, "protos", "inference")))
        {
            folder = folder.Parent;
        }

        return folder?.FullName ?? throw new InvalidOperationException("no protos/inference above " + SourceFolder());
    }
}

using System.Net;
using System.Runtime.CompilerServices;
using System.Text.Json;
using GanInference.Server.Tests.OpenInference;

namespace GanInference.Server.Tests.Rest;

/// <summary>The OpenAPI document of gan.v1's JSON surface: served at /openapi.json, and docs/openapi.json is that document.</summary>
[Collection(OipCollection.Name)]
public sealed class OpenApiTests(OipFixture fixture)
{
    [Fact]
    public async Task The_served_document_covers_the_transcoded_methods_with_the_proto_comments_and_equals_docs_openapi_json()
    {
        using var http = new HttpClient();
        using var response = await http.GetAsync(fixture.Server.HttpAddress + "/openapi.json");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var served = await response.Content.ReadAsStringAsync();

        using var document = JsonDocument.Parse(served);
        var paths = document.RootElement.GetProperty("paths").EnumerateObject().Select(p => p.Name).ToArray();
        Assert.Contains("/v1/models", paths);
        Assert.Contains("/v1/models/{model}:generate", paths);
        Assert.Contains("/v1/models/{model}:generateFromText", paths);
        Assert.Contains("/v1/models/{model}:translate", paths);
        Assert.Contains("Generates images from an unconditional or class-conditional model", served, StringComparison.Ordinal);

        var file = Path.Combine(RepositoryRoot(), "docs", "openapi.json");
        var checkedIn = File.Exists(file) ? await File.ReadAllTextAsync(file) : string.Empty;
        if (checkedIn != served)
        {
            var fresh = Path.Combine(Path.GetTempPath(), "openapi.json");
            await File.WriteAllTextAsync(fresh, served);
            Assert.Fail($"docs/openapi.json is not what the server serves; the served document is in {fresh}: copy it to docs/openapi.json");
        }
    }

    private static string RepositoryRoot([CallerFilePath] string path = "")
    {
        var folder = new DirectoryInfo(Path.GetDirectoryName(path)!);
        while (folder is not null && !File.Exists(Path.Combine(folder.FullName, "GanInference.sln")))
        {
            folder = folder.Parent;
        }

        return folder?.FullName ?? throw new InvalidOperationException("no GanInference.sln above " + path);
    }
}

using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using GanInference.Api.V1;
using GanInference.Server.Tests.Infrastructure;
using GanInference.Tests.TestModels;
using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Net.Client;
using Grpc.Reflection.V1Alpha;
using Microsoft.Extensions.Logging;

namespace GanInference.Server.Tests;

/// <summary>API keys, TLS through Kestrel's certificate configuration, and model names that are never paths.</summary>
public sealed class SecurityTests
{
    [Fact]
    public async Task With_api_keys_configured_only_calls_bearing_one_get_through_and_health_is_exempt()
    {
        var models = new TinyGanModels();
        models.AddUnconditional("m");
        await using var server = await RunningServer.StartAsync(models, "--Security:ApiKeys:0=first-key", "--Security:ApiKeys:1=second-key-longer");
        var request = new GenerateRequest { Model = "m", Seed = 1 };

        var missing = await Assert.ThrowsAsync<RpcException>(() => server.Client.GenerateAsync(request).ResponseAsync);
        var wrong = await Assert.ThrowsAsync<RpcException>(() => server.Client.GenerateAsync(request, Bearer("first-kez")).ResponseAsync);
        var prefix = await Assert.ThrowsAsync<RpcException>(() => server.Client.GenerateAsync(request, Bearer("first")).ResponseAsync);
        var admin = await Assert.ThrowsAsync<RpcException>(() => new GanAdmin.GanAdminClient(server.Channel).ReloadModelsAsync(new ReloadModelsRequest()).ResponseAsync);
        using var reflection = new ServerReflection.ServerReflectionClient(server.Channel).ServerReflectionInfo();
        try
        {
            await reflection.RequestStream.WriteAsync(new ServerReflectionRequest { ListServices = string.Empty });
        }
        catch (Exception ex) when (ex is RpcException or InvalidOperationException)
        {
            // The server may refuse the call before the request is written; the status is checked below.
        }

        var reflected = await Assert.ThrowsAsync<RpcException>(() => reflection.ResponseStream.MoveNext(CancellationToken.None));

        Assert.All([missing, wrong, prefix, admin, reflected], error => Assert.Equal(StatusCode.Unauthenticated, error.StatusCode));
        Assert.Contains("authorization: Bearer <key>", missing.Status.Detail);
        Assert.Equal("the API key is not valid", wrong.Status.Detail);
        Assert.Single((await server.Client.GenerateAsync(request, Bearer("second-key-longer"))).Images);
        Assert.Single((await server.Client.GenerateAsync(request, Bearer("first-key"))).Images);
        var health = await new Health.HealthClient(server.Channel).CheckAsync(new HealthCheckRequest());
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, health.Status);
    }

    [Fact]
    public async Task Admin_keys_open_admin_calls_only_and_inference_keys_open_everything_else()
    {
        var models = new TinyGanModels();
        models.AddUnconditional("m");
        await using var server = await RunningServer.StartAsync(models, "--Security:ApiKeys:0=inference-key", "--Security:AdminKeys:0=admin-key");
        var admin = new GanAdmin.GanAdminClient(server.Channel);
        var request = new GenerateRequest { Model = "m", Seed = 1 };

        var inferenceKeyOnAdmin = await Assert.ThrowsAsync<RpcException>(() => admin.ReloadModelsAsync(new ReloadModelsRequest(), Bearer("inference-key")).ResponseAsync);
        var adminKeyOnInference = await Assert.ThrowsAsync<RpcException>(() => server.Client.GenerateAsync(request, Bearer("admin-key")).ResponseAsync);

        Assert.Equal(StatusCode.Unauthenticated, inferenceKeyOnAdmin.StatusCode);
        Assert.Contains("Security:AdminKeys", inferenceKeyOnAdmin.Status.Detail);
        Assert.Equal(StatusCode.Unauthenticated, adminKeyOnInference.StatusCode);
        Assert.NotNull(await admin.ReloadModelsAsync(new ReloadModelsRequest(), Bearer("admin-key")));
        Assert.Single((await server.Client.GenerateAsync(request, Bearer("inference-key"))).Images);
    }

    [Fact]
    public async Task On_the_http_listener_a_request_without_a_key_gets_401_with_a_json_error_and_metrics_stay_open()
    {
        var models = new TinyGanModels();
        models.AddUnconditional("m");
        await using var server = await RunningServer.StartAsync(models, "--Security:ApiKeys:0=the-key");
        using var http = new HttpClient();

        using var refused = await http.GetAsync(server.HttpAddress + "/anything");
        using var metrics = await http.GetAsync(server.HttpAddress + "/metrics");

        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.Contains("\"error\"", await refused.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.OK, metrics.StatusCode);
    }

    [Fact]
    public async Task Tls_is_served_from_kestrels_certificate_configuration()
    {
        using var models = new TinyGanModels();
        models.AddUnconditional("m");
        using var certificate = CreateSelfSigned();
        var pfx = Path.Combine(models.Root, "server.pfx");
        await File.WriteAllBytesAsync(pfx, certificate.Export(X509ContentType.Pfx, "test-password"));
        var builder = GanServer.CreateBuilder(
        [
            "--Kestrel:Endpoints:Grpc:Url=https://127.0.0.1:0",
            $"--Kestrel:Endpoints:Grpc:Certificate:Path={pfx}",
            "--Kestrel:Endpoints:Grpc:Certificate:Password=test-password",
            "--Http:Urls=",
            $"--Models:Path={Path.Combine(models.Root)}",
            "--Models:Watch=false",
            "--Inference:IntraOpThreads=1",
            "--Logging:LogLevel:Default=Warning",

            // Kestrel's connection, endpoint and certificate-watch events, for the failure message below.
            "--Logging:LogLevel:Microsoft.AspNetCore.Server.Kestrel=Debug",
        ]);
        var serverLog = new CapturedLog();
        builder.Logging.AddProvider(serverLog);
        await using var app = GanServer.Build(builder);
        await app.StartAsync();
        var address = Assert.Single(app.Urls);
        Assert.StartsWith("https://", address);

        var handler = new SocketsHttpHandler
        {
            SslOptions = { RemoteCertificateValidationCallback = (_, presented, _, _) => presented is not null && presented.GetCertHashString() == certificate.GetCertHashString() },
        };
        using var channel = GrpcChannel.ForAddress(address, new GrpcChannelOptions { HttpHandler = handler });
        GenerateResponse response;
        try
        {
            response = await new Api.V1.GanInference.GanInferenceClient(channel).GenerateAsync(new GenerateRequest { Model = "m", Count = 2, Seed = 1 });
        }
        catch (RpcException ex)
        {
            // Once in many full-suite runs (2026-12-02) this first call got "The HTTP/2 server closed the connection.
            // HTTP/2 error code 'NO_ERROR'", a graceful GOAWAY from a freshly started endpoint, never reproduced alone;
            // the server's log says which side closed and why.
            throw new Xunit.Sdk.XunitException($"the first call over TLS failed: {ex.Status}{Environment.NewLine}the server's log:{Environment.NewLine}{serverLog}");
        }

        Assert.Equal(2, response.Images.Count);

        // Cleartext on the TLS port gets nowhere.
        using var plain = GrpcChannel.ForAddress(address.Replace("https://", "http://", StringComparison.Ordinal));
        var refused = await Assert.ThrowsAsync<RpcException>(() => new Api.V1.GanInference.GanInferenceClient(plain).ListModelsAsync(new ListModelsRequest(), deadline: DateTime.UtcNow.AddSeconds(5)).ResponseAsync);
        Assert.NotEqual(StatusCode.OK, refused.StatusCode);
        await app.StopAsync();
    }

    [Theory]
    [InlineData("../m")]
    [InlineData("m/../m")]
    [InlineData("/etc/passwd")]
    [InlineData("m/model.onnx")]
    [InlineData("m\0")]
    public async Task A_model_name_is_only_looked_up_among_loaded_models_never_used_as_a_path(string name)
    {
        var models = new TinyGanModels();
        models.AddUnconditional("m");
        await using var server = await RunningServer.StartAsync(models, "--Models:Watch=false");

        var generate = await Assert.ThrowsAsync<RpcException>(() => server.Client.GenerateAsync(new GenerateRequest { Model = name }).ResponseAsync);
        var get = await Assert.ThrowsAsync<RpcException>(() => server.Client.GetModelAsync(new GetModelRequest { Model = name }).ResponseAsync);

        Assert.Equal(StatusCode.NotFound, generate.StatusCode);
        Assert.Equal(StatusCode.NotFound, get.StatusCode);
        Assert.Contains("loaded models: [m]", generate.Status.Detail);
    }

    private static Metadata Bearer(string key) => new() { { "authorization", "Bearer " + key } };

    private static X509Certificate2 CreateSelfSigned()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=127.0.0.1", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], critical: false));
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddHours(1));
    }
}

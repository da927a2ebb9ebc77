using GanInference.Core.Generation;
using GanInference.Core.Repository;
using GanInference.Core.Runtime;
using GanInference.Core.Telemetry;
using GanInference.Core.Translation;
using GanInference.Server.Limits;
using GanInference.Server.Security;
using GanInference.Server.Services;
using GanInference.Server.Hosting;
using GanInference.Server.Options;
using GanInference.Server.Telemetry;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Grpc.AspNetCore.Server;
using Grpc.HealthCheck;
using Microsoft.Extensions.Options;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace GanInference.Server;

/// <summary>
/// Builds the GanInference server. <c>Program</c> uses it, and so can tests and tools that need a real
/// server in-process:
/// <code>
/// await using var app = GanServer.Create(["--urls=http://127.0.0.1:0", "--Models:Path=/tmp/models"]);
/// await app.StartAsync();
/// var address = app.Urls.First();   // the bound address, e.g. http://127.0.0.1:41877
/// </code>
/// Configuration layers, later wins: <c>appsettings.json</c> next to the binary,
/// <c>appsettings.{Environment}.json</c>, environment variables (<c>Models__Path</c>), then
/// the command line (<c>--Models:Path=...</c>, <c>--urls=...</c>).
/// </summary>
public static class GanServer
{
    /// <summary>A builder with every service, option and endpoint default registered; add or override before <see cref="Build"/>.</summary>
    /// <param name="args">Command-line arguments (also the highest-priority configuration source).</param>
    public static WebApplicationBuilder CreateBuilder(string[] args)
    {
        // The content root is the binary's folder, so appsettings.json is found whatever the current
        // directory; the model repository path is still taken relative to the current directory.
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions
        {
            Args = args,
            ContentRootPath = AppContext.BaseDirectory,
        });
        // gRPC needs HTTP/2, and without TLS Kestrel cannot offer HTTP/1.1 and HTTP/2 on one port, so the
        // gRPC endpoints speak cleartext HTTP/2 (h2c, prior knowledge) unless configuration says otherwise;
        // plain-HTTP/1.1 /metrics has its own listener (MetricsListener).
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.ConfigureEndpointDefaults(endpoint => endpoint.Protocols = HttpProtocols.Http2));
        AddGanServices(builder.Services, builder.Configuration);
        return builder;
    }

    /// <summary>Builds the application and maps its endpoints: the gRPC service, health, reflection and <c>/metrics</c>.</summary>
    /// <param name="builder">A builder from <see cref="CreateBuilder"/>.</param>
    public static WebApplication Build(WebApplicationBuilder builder)
    {
        var app = builder.Build();
        app.UseMiddleware<RequestMessageGuard>();
        app.MapGrpcService<GanInferenceService>();
        app.MapGrpcService<GanAdminService>();
        app.MapGrpcService<HealthServiceImpl>();
        app.MapGrpcReflectionService();
        app.MapPrometheusScrapingEndpoint("/metrics");
        return app;
    }

    /// <summary><see cref="CreateBuilder"/> then <see cref="Build"/>.</summary>
    /// <param name="args">Command-line arguments.</param>
    public static WebApplication Create(string[] args) => Build(CreateBuilder(args));

    private static void AddGanServices(IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<ModelRepositoryOptions>().Bind(configuration.GetSection(ModelRepositoryOptions.SectionName));
        services.AddOptions<InferenceOptions>().Bind(configuration.GetSection(InferenceOptions.SectionName)).ValidateOnStart();
        services.AddSingleton<IValidateOptions<InferenceOptions>, InferenceOptionsValidator>();
        services.AddOptions<GenerationOptions>().Bind(configuration.GetSection(GenerationOptions.SectionName));
        services.AddOptions<TranslationOptions>().Bind(configuration.GetSection(TranslationOptions.SectionName))
            .Validate(t => t.StreamWindow >= 0 && t.CodecParallelism >= 0, "Translation: StreamWindow and CodecParallelism must be 0 (automatic) or more")
            .ValidateOnStart();
        services.AddOptions<ServerLimitsOptions>().Bind(configuration.GetSection(ServerLimitsOptions.SectionName))
            .Validate(l => l.MaxImagesPerRequest > 0 && l.MaxImagesPerStream > 0 && l.MaxImagesPerTranslate > 0 && l.MaxTextsPerRequest > 0 && l.MaxTextLength > 0 && l.MaxInputImagePixels > 0 && l.MaxReceiveMessageBytes > 0 && l.MaxSendMessageBytes > 0 && l.MaxConcurrentCallsPerConnection >= 0, "Limits: every limit must be positive (MaxConcurrentCallsPerConnection: 0 or more)")
            .ValidateOnStart();
        services.AddOptions<ShutdownOptions>().Bind(configuration.GetSection(ShutdownOptions.SectionName))
            .Validate(s => s.DrainTimeoutSeconds >= 0 && s.NotServingDelaySeconds >= 0, "Shutdown: DrainTimeoutSeconds and NotServingDelaySeconds must not be negative")
            .ValidateOnStart();
        services.AddOptions<SecurityOptions>().Bind(configuration.GetSection(SecurityOptions.SectionName));
        services.AddOptions<TelemetryOptions>().Bind(configuration.GetSection(TelemetryOptions.SectionName));

        // The host waits for the drain, plus a little for the last answers (UNAVAILABLE for calls the drain cut off) to be written.
        services.AddOptions<HostOptions>().Configure<IOptions<ShutdownOptions>>((host, shutdown) =>
            host.ShutdownTimeout = TimeSpan.FromSeconds(shutdown.Value.NotServingDelaySeconds + shutdown.Value.DrainTimeoutSeconds) + ShutdownOptions.AnswerGrace);
        services.AddOptions<KestrelServerOptions>().Configure<IOptions<ServerLimitsOptions>>((kestrel, limits) =>
        {
            if (limits.Value.MaxConcurrentCallsPerConnection > 0)
            {
                kestrel.Limits.Http2.MaxStreamsPerConnection = limits.Value.MaxConcurrentCallsPerConnection;
            }
        });
        services.AddOptions<MetricsListenerOptions>().Bind(configuration.GetSection(MetricsListenerOptions.SectionName));

        services.AddSingleton(TimeProvider.System);
        services.AddSingleton(sp => new GanTelemetry(sp.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>().Create(new System.Diagnostics.Metrics.MeterOptions(GanTelemetry.Name))));
        services.AddSingleton<OnnxSessionFactory>();
        services.AddSingleton<ModelRepository>();
        services.AddSingleton<ImageGenerator>();
        services.AddSingleton<ImageTranslator>();
        services.AddSingleton<ServingState>();
        services.AddSingleton<HealthServiceImpl>();
        services.AddHostedService<ModelServingService>();
        services.AddSingleton<ModelReloader>();
        services.AddHostedService(sp => sp.GetRequiredService<ModelReloader>());
        services.AddSingleton<MetricsListener>();
        services.AddHostedService(sp => sp.GetRequiredService<MetricsListener>());

        // API keys are checked first, so an unauthenticated call learns nothing else (not even "shutting down").
        services.AddGrpc(options =>
        {
            options.Interceptors.Add<ApiKeyInterceptor>();
            options.Interceptors.Add<GanErrorInterceptor>();
        });
        services.AddOptions<GrpcServiceOptions>().Configure<IOptions<ServerLimitsOptions>>((grpc, limits) =>
        {
            grpc.MaxReceiveMessageSize = limits.Value.MaxReceiveMessageBytes;
            grpc.MaxSendMessageSize = limits.Value.MaxSendMessageBytes;
        });
        services.AddGrpcReflection();

        var telemetry = configuration.GetSection(TelemetryOptions.SectionName).Get<TelemetryOptions>() ?? new TelemetryOptions();
        var otlp = string.IsNullOrWhiteSpace(telemetry.OtlpEndpoint) ? null : new Uri(telemetry.OtlpEndpoint);
        services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService(telemetry.ServiceName))
            .WithMetrics(metrics =>
            {
                metrics.AddMeter(GanTelemetry.Name).AddAspNetCoreInstrumentation().AddRuntimeInstrumentation().AddPrometheusExporter();
                if (otlp is not null)
                {
                    metrics.AddOtlpExporter(o => o.Endpoint = otlp);
                }
            })
            .WithTracing(tracing =>
            {
                tracing.AddSource(GanTelemetry.Name).AddAspNetCoreInstrumentation();
                if (otlp is not null)
                {
                    tracing.AddOtlpExporter(o => o.Endpoint = otlp);
                }
            });
    }
}

using GanInference.Core.Generation;
using GanInference.Core.Imaging;
using GanInference.Core.Repository;
using GanInference.Core.Runtime;
using GanInference.Core.Telemetry;
using GanInference.Core.Translation;
using GanInference.Server.Limits;
using GanInference.Server.Security;
using GanInference.Server.Services;
using GanInference.Server.Hosting;
using GanInference.Server.OpenInference;
using GanInference.Server.Rest;
using GanInference.Server.Options;
using GanInference.Server.Playground;
using GanInference.Server.Transport;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Grpc.AspNetCore.Server;
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
        // gRPC needs HTTP/2, and without TLS Kestrel cannot offer HTTP/1.1 and HTTP/2 on one port, so one Kestrel
        // binds two listeners: the gRPC addresses (--urls) as cleartext HTTP/2 (h2c, prior knowledge) and Http:Urls as
        // HTTP/1.1 for everything else (/metrics). Kestrel's own endpoint configuration (TLS) replaces the first.
        var listeners = new ServerListeners();
        var grpcUrls = builder.Configuration.GetSection("Kestrel:Endpoints").GetChildren().Any()
            ? []
            : ServerListeners.Parse(builder.Configuration[WebHostDefaults.ServerUrlsKey] is { Length: > 0 } urls ? urls : ServerListeners.DefaultGrpcUrls, "urls");
        var httpUrls = ServerListeners.Parse(
            builder.Configuration.GetSection(HttpListenerOptions.SectionName).Get<HttpListenerOptions>()?.Urls ?? new HttpListenerOptions().Urls,
            $"{HttpListenerOptions.SectionName}:{nameof(HttpListenerOptions.Urls)}");
        var unixSocket = builder.Configuration.GetSection(GrpcListenerOptions.SectionName).Get<GrpcListenerOptions>()?.UnixSocket;
        builder.WebHost.UseUrls(); // the listeners below are the addresses; Kestrel would otherwise warn that it overrides --urls
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.ConfigureEndpointDefaults(endpoint => endpoint.Protocols = HttpProtocols.Http2);
            listeners.Configure(kestrel, grpcUrls, httpUrls, unixSocket);
        });
        builder.Services.AddSingleton(listeners);
        AddGanServices(builder.Services, builder.Configuration);
        return builder;
    }

    /// <summary>
    /// Builds the application: API keys first (before anything reads a body), <c>/metrics</c> on the HTTP/1.1
    /// listener, the request message guard, then the gRPC services, health and reflection.
    /// </summary>
    /// <param name="builder">A builder from <see cref="CreateBuilder"/>.</param>
    public static WebApplication Build(WebApplicationBuilder builder)
    {
        var app = builder.Build();

        // Kestrel leaves the socket file behind when it stops; a stale socket is removed (never any other file).
        app.Lifetime.ApplicationStopped.Register(() =>
        {
            if (app.Services.GetRequiredService<ServerListeners>().UnixSocket is { } socket)
            {
                UnixSocketFile.RemoveIfStale(socket);
            }
        });
        app.UsePlaygroundFiles(); // the page itself needs no key: it asks for one (docs/playground.md)
        app.UseMiddleware<ApiKeyMiddleware>();
        app.UseOpenTelemetryPrometheusScrapingEndpoint(
            meterProvider: null,
            predicate: context => context.Request.Path == "/metrics" && ServerListeners.IsHttpListenerRequest(context),
            path: null,
            configureBranchedPipeline: null,
            optionsName: null);
        app.UseMiddleware<RequestMessageGuard>();
        app.UseGanV1JsonOnHttpListener();
        app.MapGanV1OpenApi();
        app.UsePlaygroundSamples();
        app.MapGrpcService<GanInferenceService>();
        app.MapGrpcService<GanAdminService>();
        app.MapGrpcService<ServingHealthService>();
        app.MapOpenInference();
        app.MapGrpcReflectionService();
        return app;
    }

    /// <summary><see cref="CreateBuilder"/> then <see cref="Build"/>.</summary>
    /// <param name="args">Command-line arguments.</param>
    public static WebApplication Create(string[] args) => Build(CreateBuilder(args));

    private static void AddGanServices(IServiceCollection services, IConfiguration configuration)
    {
        // Every options class is bound from its section and checked at start (OptionsValidators names each bad key).
        services.AddOptions<ModelRepositoryOptions>().Bind(configuration.GetSection(ModelRepositoryOptions.SectionName)).ValidateOnStart();
        services.AddOptions<InferenceOptions>().Bind(configuration.GetSection(InferenceOptions.SectionName)).ValidateOnStart();
        services.AddSingleton<IValidateOptions<InferenceOptions>, InferenceOptionsValidator>();
        services.AddOptions<GenerationOptions>().Bind(configuration.GetSection(GenerationOptions.SectionName)).ValidateOnStart();
        services.AddOptions<TranslationOptions>().Bind(configuration.GetSection(TranslationOptions.SectionName)).ValidateOnStart();
        services.AddOptions<ServerLimitsOptions>().Bind(configuration.GetSection(ServerLimitsOptions.SectionName)).ValidateOnStart();
        services.AddOptions<ShutdownOptions>().Bind(configuration.GetSection(ShutdownOptions.SectionName)).ValidateOnStart();
        services.AddOptions<SecurityOptions>().Bind(configuration.GetSection(SecurityOptions.SectionName)).ValidateOnStart();
        services.AddOptions<TelemetryOptions>().Bind(configuration.GetSection(TelemetryOptions.SectionName)).ValidateOnStart();
        services.AddOptions<GrpcListenerOptions>().Bind(configuration.GetSection(GrpcListenerOptions.SectionName)).ValidateOnStart();
        services.AddOptions<PlaygroundOptions>().Bind(configuration.GetSection(PlaygroundOptions.SectionName)).ValidateOnStart();
        services.AddSingleton<OptionsValidators>();
        services.AddSingleton<IValidateOptions<ModelRepositoryOptions>>(sp => sp.GetRequiredService<OptionsValidators>());
        services.AddSingleton<IValidateOptions<GenerationOptions>>(sp => sp.GetRequiredService<OptionsValidators>());
        services.AddSingleton<IValidateOptions<TranslationOptions>>(sp => sp.GetRequiredService<OptionsValidators>());
        services.AddSingleton<IValidateOptions<ShutdownOptions>>(sp => sp.GetRequiredService<OptionsValidators>());
        services.AddSingleton<IValidateOptions<SecurityOptions>>(sp => sp.GetRequiredService<OptionsValidators>());
        services.AddSingleton<IValidateOptions<TelemetryOptions>>(sp => sp.GetRequiredService<OptionsValidators>());
        services.AddSingleton<IValidateOptions<ServerLimitsOptions>>(sp => sp.GetRequiredService<OptionsValidators>());
        services.AddSingleton<IValidateOptions<GrpcListenerOptions>>(sp => sp.GetRequiredService<OptionsValidators>());

        // The host waits for the drain, plus a little for the last answers (UNAVAILABLE for calls the drain cut off) to be written.
        services.AddOptions<HostOptions>().Configure<IOptions<ShutdownOptions>>((host, shutdown) =>
            host.ShutdownTimeout = TimeSpan.FromSeconds(shutdown.Value.NotServingDelaySeconds + shutdown.Value.DrainTimeoutSeconds) + ShutdownOptions.AnswerGrace);
        services.AddOptions<KestrelServerOptions>().Configure<IOptions<ServerLimitsOptions>>((kestrel, limits) =>
        {
            if (limits.Value.MaxConcurrentCallsPerConnection > 0)
            {
                kestrel.Limits.Http2.MaxStreamsPerConnection = limits.Value.MaxConcurrentCallsPerConnection;
            }

            // RequestMessageGuard holds a whole first message unread while it checks it; HTTP/2 flow control must let
            // that much in (Kestrel's defaults are 768 KiB per stream, 1 MiB per connection, less than one 1 MB image).
            // The connection window bounds what all of a connection's streams can buffer together.
            var window = limits.Value.MaxReceiveMessageBytes + 5 + (64 * 1024);
            kestrel.Limits.Http2.InitialStreamWindowSize = Math.Max(kestrel.Limits.Http2.InitialStreamWindowSize, window);
            kestrel.Limits.Http2.InitialConnectionWindowSize = Math.Max(kestrel.Limits.Http2.InitialConnectionWindowSize, window);
        });

        // Kestrel's transports take their memory pools from the IMemoryPoolFactory<byte> in DI (Kestrel registers its
        // own 4 KiB-block pool; the last registration wins). Read here because services cannot be added at start; a
        // bad value is not registered and is refused at start by OptionsValidators, naming the key.
        var transportBlock = configuration.GetSection(ServerLimitsOptions.SectionName).GetValue<int?>(nameof(ServerLimitsOptions.TransportBlockBytes))
            ?? ServerLimitsOptions.DefaultTransportBlockBytes;
        if (transportBlock != 0 && ServerLimitsOptions.IsValidTransportBlockSize(transportBlock))
        {
            services.AddSingleton<LargeBlockMemoryPoolFactory>();
            services.AddSingleton<IMemoryPoolFactory<byte>>(sp => sp.GetRequiredService<LargeBlockMemoryPoolFactory>());
        }

        services.AddSingleton(TimeProvider.System);
        services.AddSingleton(sp => new GanTelemetry(sp.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>().Create(new System.Diagnostics.Metrics.MeterOptions(GanTelemetry.Name))));
        services.AddSingleton<OnnxSessionFactory>();
        services.AddSingleton<ModelRepository>();
        // One codec limit for every request of every RPC (Generation:EncodeParallelism, 0: one per processor).
        services.AddSingleton(sp => new CodecLimiter(sp.GetRequiredService<IOptions<GenerationOptions>>().Value.EncodeParallelism));
        services.AddSingleton<ImageGenerator>();
        services.AddSingleton<ImageTranslator>();
        services.AddSingleton<ServingState>();
        services.AddSingleton<ServingHealthService>();
        services.AddHostedService<ModelServingService>();
        services.AddSingleton<ModelReloader>();
        services.AddHostedService(sp => sp.GetRequiredService<ModelReloader>());
        services.AddOpenInference();

        // API keys are checked before this, by ApiKeyMiddleware, so an unauthenticated call learns nothing else.
        services.AddGrpc(options => options.Interceptors.Add<GanErrorInterceptor>()).AddJsonTranscoding(json => json.JsonSettings.WriteInt64sAsStrings = true);
        services.AddOptions<GrpcServiceOptions>().Configure<IOptions<ServerLimitsOptions>>((grpc, limits) =>
        {
            grpc.MaxReceiveMessageSize = limits.Value.MaxReceiveMessageBytes;
            grpc.MaxSendMessageSize = limits.Value.MaxSendMessageBytes;
        });
        services.AddGrpcReflection();
        services.AddGanV1OpenApi();

        var telemetry = configuration.GetSection(TelemetryOptions.SectionName).Get<TelemetryOptions>() ?? new TelemetryOptions();
        // An endpoint that is not a URL is refused at start by OptionsValidators, naming Telemetry:OtlpEndpoint.
        var otlp = Uri.TryCreate(telemetry.OtlpEndpoint, UriKind.Absolute, out var endpoint) ? endpoint : null;
        var openTelemetry = services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService(telemetry.ServiceName))
            .WithMetrics(metrics =>
            {
                metrics.AddMeter(GanTelemetry.Name).AddAspNetCoreInstrumentation().AddRuntimeInstrumentation().AddPrometheusExporter();
                if (otlp is not null)
                {
                    metrics.AddOtlpExporter(o => o.Endpoint = otlp);
                }
            });

        // Spans are recorded only when they are exported: a tracer with no exporter would still sample every request
        // and batch (ASP.NET Core's request activity with its tags, the gan.* spans and their links) and drop them.
        if (otlp is not null)
        {
            openTelemetry.WithTracing(tracing => tracing.AddSource(GanTelemetry.Name).AddAspNetCoreInstrumentation().AddOtlpExporter(o => o.Endpoint = otlp));
        }
    }
}

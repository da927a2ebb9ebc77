using GanInference.Api.Inference;

namespace GanInference.Server.OpenInference;

/// <summary>Registers the Open Inference Protocol surfaces (docs/open-inference-protocol.md).</summary>
internal static class OpenInferenceExtensions
{
    /// <summary>The gRPC path prefix of <c>inference.GRPCInferenceService</c>.</summary>
    public const string GrpcPrefix = "/inference.GRPCInferenceService/";

    /// <summary>The services both surfaces share.</summary>
    public static IServiceCollection AddOpenInference(this IServiceCollection services) =>
        services.AddSingleton<OipInference>().AddSingleton<OipStatistics>();

    /// <summary>Maps <c>inference.GRPCInferenceService</c> on the gRPC listener and the REST surface (<c>/v2/...</c>) on the HTTP/1.1 listener.</summary>
    public static WebApplication MapOpenInference(this WebApplication app)
    {
        // Created now, so that its statistics count from the first call.
        _ = app.Services.GetRequiredService<OipStatistics>();
        app.UseMiddleware<OipRestMiddleware>();
        app.MapGrpcService<OipGrpcService>();
        return app;
    }

    /// <summary>The model a request of this service names, for metric labels; empty for others.</summary>
    public static string? ModelOf(object? request) => request switch
    {
        ModelInferRequest infer => infer.ModelName,
        ModelMetadataRequest metadata => metadata.Name,
        ModelConfigRequest config => config.Name,
        ModelStatisticsRequest statistics => statistics.Name,
        ModelReadyRequest ready => ready.Name,
        _ => null,
    };
}

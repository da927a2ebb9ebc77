using System.Reflection;
using GanInference.Api.Inference;
using GanInference.Core.Repository;
using GanInference.Server.Hosting;
using Grpc.Core;

namespace GanInference.Server.OpenInference;

/// <summary>
/// The Open Inference Protocol's gRPC service (<c>inference.GRPCInferenceService</c>) on the gRPC port beside
/// <c>gan.v1</c>, with Triton's <c>ModelConfig</c>, <c>ModelStatistics</c> and <c>RepositoryIndex</c>. A thin
/// adapter: <see cref="OipInference"/> does the work; errors are mapped by <c>GanErrorInterceptor</c> as for gan.v1.
/// </summary>
internal sealed class OipGrpcService(ModelRepository repository, ServingState servingState, OipInference inference, OipStatistics statistics)
    : GRPCInferenceService.GRPCInferenceServiceBase
{
    /// <summary>The extensions <c>ServerMetadata</c> reports: the ones this server implements.</summary>
    public static readonly string[] Extensions = ["model_configuration", "statistics", "model_repository", "binary_tensor_data"];

    /// <summary>The server name <c>ServerMetadata</c> reports.</summary>
    public const string ServerName = "gan-inference";

    /// <summary>This build's version.</summary>
    public static string ServerVersion { get; } = typeof(OipGrpcService).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "1.0.0";

    public override Task<ServerLiveResponse> ServerLive(ServerLiveRequest request, ServerCallContext context) =>
        Task.FromResult(new ServerLiveResponse { Live = true });

    public override Task<ServerReadyResponse> ServerReady(ServerReadyRequest request, ServerCallContext context) =>
        Task.FromResult(new ServerReadyResponse { Ready = IsReady(servingState) });

    public override Task<ModelReadyResponse> ModelReady(ModelReadyRequest request, ServerCallContext context) =>
        Task.FromResult(new ModelReadyResponse { Ready = IsModelReady(repository, servingState, request.Name, request.Version) });

    public override Task<ServerMetadataResponse> ServerMetadata(ServerMetadataRequest request, ServerCallContext context) =>
        Task.FromResult(new ServerMetadataResponse { Name = ServerName, Version = ServerVersion, Extensions = { Extensions } });

    public override Task<ModelMetadataResponse> ModelMetadata(ModelMetadataRequest request, ServerCallContext context) =>
        Task.FromResult(OipModel.Find(repository, request.Name, request.Version).ToMetadata());

    public override Task<ModelInferResponse> ModelInfer(ModelInferRequest request, ServerCallContext context) =>
        inference.InferAsync(request, context.Deadline, context.CancellationToken);

    public override Task<ModelConfigResponse> ModelConfig(ModelConfigRequest request, ServerCallContext context) =>
        Task.FromResult(new ModelConfigResponse { Config = OipModel.Find(repository, request.Name, request.Version).ToConfig() });

    public override Task<ModelStatisticsResponse> ModelStatistics(ModelStatisticsRequest request, ServerCallContext context) =>
        Task.FromResult(Statistics(repository, statistics, request.Name, request.Version));

    public override Task<RepositoryIndexResponse> RepositoryIndex(RepositoryIndexRequest request, ServerCallContext context) =>
        Task.FromResult(Index(repository));

    /// <summary>Ready: started and not shutting down (models are loaded before the listeners open).</summary>
    public static bool IsReady(ServingState servingState) => !servingState.IsStopping;

    /// <summary>Ready: the model or pipeline is loaded under that version and the server is not shutting down.</summary>
    public static bool IsModelReady(ModelRepository repository, ServingState servingState, string name, string version) =>
        IsReady(servingState) && repository.Contains(name) && (version.Length == 0 || version == OipModel.Version);

    /// <summary>One model's statistics, or every model's for an empty name.</summary>
    public static ModelStatisticsResponse Statistics(ModelRepository repository, OipStatistics statistics, string name, string version)
    {
        var response = new ModelStatisticsResponse();
        if (name.Length == 0)
        {
            response.ModelStats.AddRange(repository.Names.Select(statistics.Get));
            return response;
        }

        var model = OipModel.Find(repository, name, version);
        response.ModelStats.Add(statistics.Get(model.Name));
        return response;
    }

    /// <summary>Every served model and pipeline (READY), then every folder that could not be loaded (UNAVAILABLE, with the reason).</summary>
    public static RepositoryIndexResponse Index(ModelRepository repository)
    {
        var response = new RepositoryIndexResponse();
        response.Models.AddRange(repository.Names.Select(name => new RepositoryIndexResponse.Types.ModelIndex { Name = name, Version = OipModel.Version, State = "READY" }));
        response.Models.AddRange(repository.Failures.Select(f => new RepositoryIndexResponse.Types.ModelIndex { Name = f.Folder, State = "UNAVAILABLE", Reason = f.Reason }));
        return response;
    }
}

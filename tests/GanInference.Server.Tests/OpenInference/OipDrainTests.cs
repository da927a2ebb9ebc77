using System.Net;
using GanInference.Api.Inference;
using GanInference.Server.Hosting;
using GanInference.Server.Tests.Infrastructure;
using GanInference.Tests.TestModels;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using static GanInference.Server.Tests.OpenInference.OipTensorsForTests;

namespace GanInference.Server.Tests.OpenInference;

/// <summary>While the server drains, OIP calls are refused as gan.v1's are, and its probes say not ready.</summary>
public sealed class OipDrainTests
{
    [Fact]
    public async Task While_draining_OIP_calls_are_UNAVAILABLE_or_503_and_readiness_is_false_but_liveness_true()
    {
        var models = new TinyGanModels();
        models.AddUnconditional("u");
        await using var server = await RunningServer.StartAsync(models);
        var state = server.App.Services.GetRequiredService<ServingState>();
        var oip = new GRPCInferenceService.GRPCInferenceServiceClient(server.Channel);
        using var http = new HttpClient();
        var request = new ModelInferRequest { ModelName = "u", Inputs = { Input("seed", "UINT64", 1) }, RawInputContents = { Raw(1UL) } };
        Assert.Single((await oip.ModelInferAsync(request)).RawOutputContents.Take(1));

        state.BeginStopping(TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(1));
        state.RefuseNewCalls();

        var error = await Assert.ThrowsAsync<RpcException>(async () => await oip.ModelInferAsync(request));
        Assert.Equal(StatusCode.Unavailable, error.StatusCode);
        Assert.Contains("shutting down", error.Status.Detail, StringComparison.Ordinal);
        Assert.False((await oip.ServerReadyAsync(new ServerReadyRequest())).Ready);
        Assert.False((await oip.ModelReadyAsync(new ModelReadyRequest { Name = "u" })).Ready);
        Assert.True((await oip.ServerLiveAsync(new ServerLiveRequest())).Live);

        using var rest = await http.PostAsync(
            server.HttpAddress + "/v2/models/u/infer",
            new StringContent("""{"inputs": [{"name": "seed", "shape": [1], "datatype": "UINT64", "data": [1]}]}"""));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, rest.StatusCode);
        Assert.Contains("shutting down", await rest.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.BadRequest, (await http.GetAsync(server.HttpAddress + "/v2/health/ready")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(server.HttpAddress + "/v2/health/live")).StatusCode);
    }
}

using System.Runtime.CompilerServices;
using GanInference.Api.V1;
using Grpc.Core;
using Grpc.Net.Client;
using GanInferenceClient = GanInference.Api.V1.GanInference.GanInferenceClient;

namespace GanInference.Client;

/// <summary>
/// Typed client of the <c>gan.v1.GanInference</c> service: applies the configured deadlines and hands
/// the retry policy to the channel. Failures surface as <see cref="RpcException"/> with the server's
/// status code (NOT_FOUND for an unknown model, INVALID_ARGUMENT naming the field, ...).
/// </summary>
/// <remarks>
/// Thread-safe; one instance is meant to be shared by many concurrent calls. Dispose it when it owns its
/// channel (built with <see cref="GanClient(GanClientOptions)"/>); an instance from dependency injection
/// uses the factory's channel and disposing it is a no-op.
/// </remarks>
public sealed class GanClient : IDisposable
{
    private readonly GanInferenceClient _stub;
    private readonly GrpcChannel? _ownedChannel;
    private readonly GanClientOptions _options;

    /// <summary>
    /// Builds a client with its own channel to <see cref="GanClientOptions.Address"/>, or balanced round-robin over
    /// <see cref="GanClientOptions.Addresses"/> (or over what a <c>dns:///</c> address resolves to).
    /// </summary>
    /// <param name="options">Addresses, deadlines, message sizes and retries.</param>
    /// <exception cref="ArgumentException">A setting is out of range.</exception>
    public GanClient(GanClientOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        _ownedChannel = GanChannelOptions.CreateChannel(options);
        _stub = new GanInferenceClient(_ownedChannel);
    }

    /// <summary>Wraps a generated stub whose channel someone else owns (e.g. Grpc.Net.ClientFactory).</summary>
    /// <param name="stub">The generated client.</param>
    /// <param name="options">Deadlines and the address (used in messages only).</param>
    public GanClient(GanInferenceClient stub, GanClientOptions options)
    {
        ArgumentNullException.ThrowIfNull(stub);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _stub = stub;
        _options = options;
    }

    /// <summary>
    /// A channel set up as this client's own (address, message sizes, retries, the API key), for the server's other
    /// gRPC services on the same port, e.g. the Open Inference Protocol's <c>inference.GRPCInferenceService</c>.
    /// </summary>
    /// <param name="options">Address, message sizes, retries and key.</param>
    /// <returns>A new channel; the caller disposes it.</returns>
    /// <exception cref="ArgumentException">A setting is out of range.</exception>
    public static GrpcChannel CreateChannel(GanClientOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        return GanChannelOptions.CreateChannel(options);
    }

    /// <summary>The server address this client talks to (the first of <see cref="Addresses"/> when there are several).</summary>
    public Uri Address => Addresses[0];

    /// <summary>Every configured address: one server, the replicas balanced over, or the <c>dns:///</c> name.</summary>
    public IReadOnlyList<Uri> Addresses => GanEndpoints.From(_options).Addresses;

    /// <summary>The addresses for messages, comma-separated.</summary>
    public string Endpoints => GanEndpoints.From(_options).ToString();

    /// <summary>The generated stub, for RPCs this wrapper does not cover yet.</summary>
    public GanInferenceClient Stub => _stub;

    /// <summary>Lists the models the server serves.</summary>
    /// <param name="cancellationToken">Cancels the call.</param>
    public async Task<IReadOnlyList<ModelInfo>> ListModelsAsync(CancellationToken cancellationToken = default)
    {
        var response = await _stub.ListModelsAsync(new ListModelsRequest(), CallOptions(_options.UnaryDeadline, null, cancellationToken)).ConfigureAwait(false);
        return response.Models;
    }

    /// <summary>Full metadata of one model; NOT_FOUND for an unknown name.</summary>
    /// <param name="model">The model's name.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task<ModelInfo> GetModelAsync(string model, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(model);
        return _stub.GetModelAsync(new GetModelRequest { Model = model }, CallOptions(_options.UnaryDeadline, null, cancellationToken)).ResponseAsync;
    }

    /// <summary>Generates all requested images in one reply.</summary>
    /// <param name="request">Model, count or seeds, labels, format.</param>
    /// <param name="deadline">Overrides <see cref="GanClientOptions.UnaryDeadline"/> for this call.</param>
    /// <param name="cancellationToken">Cancels the call; the server drops it before it costs compute.</param>
    public Task<GenerateResponse> GenerateAsync(GenerateRequest request, TimeSpan? deadline = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        return _stub.GenerateAsync(request, CallOptions(_options.UnaryDeadline, deadline, cancellationToken)).ResponseAsync;
    }

    /// <summary>
    /// Generates images and yields each as the server streams it, in index order; memory stays bounded
    /// whatever the count.
    /// </summary>
    /// <param name="request">Model, count or seeds, labels, format.</param>
    /// <param name="deadline">Overrides <see cref="GanClientOptions.StreamDeadline"/> for this call.</param>
    /// <param name="cancellationToken">Cancels the stream.</param>
    public IAsyncEnumerable<GeneratedImage> GenerateStreamAsync(
        GenerateRequest request,
        TimeSpan? deadline = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        return ReadAllAsync(() => _stub.GenerateStream(request, CallOptions(_options.StreamDeadline, deadline, cancellationToken)), cancellationToken);
    }

    /// <summary>
    /// Generates images from captions (or sentence embeddings) with a text-conditional model or pipeline, all in
    /// one reply; each image carries its <see cref="GeneratedImage.TextIndex"/> and seed.
    /// </summary>
    /// <param name="request">Model, texts or embeddings, count per text, seeds, format.</param>
    /// <param name="deadline">Overrides <see cref="GanClientOptions.UnaryDeadline"/> for this call.</param>
    /// <param name="cancellationToken">Cancels the call; the server drops it before it costs compute.</param>
    public Task<GenerateResponse> GenerateFromTextAsync(GenerateFromTextRequest request, TimeSpan? deadline = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        return _stub.GenerateFromTextAsync(request, CallOptions(_options.UnaryDeadline, deadline, cancellationToken)).ResponseAsync;
    }

    /// <summary>The streaming form of <see cref="GenerateFromTextAsync"/>: images in index order as they are produced.</summary>
    /// <param name="request">Model, texts or embeddings, count per text, seeds, format.</param>
    /// <param name="deadline">Overrides <see cref="GanClientOptions.StreamDeadline"/> for this call.</param>
    /// <param name="cancellationToken">Cancels the stream.</param>
    public IAsyncEnumerable<GeneratedImage> GenerateFromTextStreamAsync(
        GenerateFromTextRequest request,
        TimeSpan? deadline = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        return ReadAllAsync(() => _stub.GenerateFromTextStream(request, CallOptions(_options.StreamDeadline, deadline, cancellationToken)), cancellationToken);
    }

    /// <summary>Disposes the channel when this client built it.</summary>
    public void Dispose() => _ownedChannel?.Dispose();

    /// <summary>Starts the call when enumeration starts (so the deadline runs from then) and disposes it at the end.</summary>
    private static async IAsyncEnumerable<T> ReadAllAsync<T>(Func<AsyncServerStreamingCall<T>> start, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var call = start();
        await foreach (var item in call.ResponseStream.ReadAllAsync(cancellationToken).ConfigureAwait(false))
        {
            yield return item;
        }
    }

    private static CallOptions CallOptions(TimeSpan? configured, TimeSpan? perCall, CancellationToken cancellationToken)
    {
        var timeout = perCall ?? configured;
        DateTime? deadline = timeout is { } t ? DateTime.UtcNow + t : null;
        return new CallOptions(deadline: deadline, cancellationToken: cancellationToken);
    }
}

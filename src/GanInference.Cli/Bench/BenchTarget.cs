using GanInference.Api.V1;
using GanInference.Client;

namespace GanInference.Cli.Bench;

/// <summary>
/// One benchmark request against a model over one protocol, with fresh seeds each time so the server cannot
/// answer from a cache: request k asks for the <c>count</c> seeds after request k-1's. Every protocol sends the
/// same seeds (and, to class-conditional models, the same labels: seed mod classes, gan.v1's default) and asks
/// for the same pixels, so their runs measure the surface and not the work. Requests take the clients (each
/// its own channel or connection pool) in turn. <see cref="SendAsync"/> returns the number of images received
/// and throws <see cref="Grpc.Core.RpcException"/> on failure (REST statuses mapped to gRPC codes).
/// </summary>
internal abstract class BenchTarget : IDisposable
{
    private long _nextSeed;
    private long _nextClient;

    protected BenchTarget(ModelInfo model, int count, TimeSpan deadline, ulong firstSeed, bool seedDriven = true)
    {
        if (seedDriven)
        {
            ModelLookup.RequireSeedDriven(model, "bench");
        }

        Model = model;
        Count = count;
        Deadline = deadline;
        _nextSeed = unchecked((long)firstSeed);
    }

    /// <summary>What a request calls, for the report: the RPC's full name, or the REST method and path.</summary>
    public abstract string Rpc { get; }

    /// <summary>The <c>--protocol</c> value: gan, oip or rest.</summary>
    public abstract string Protocol { get; }

    /// <summary>The <c>--kind</c>: seeds, text or translate.</summary>
    public virtual string Kind => BenchKinds.Seeds;

    /// <summary>The address the load goes to.</summary>
    public abstract Uri Address { get; }

    protected ModelInfo Model { get; }

    protected int Count { get; }

    protected TimeSpan Deadline { get; }

    /// <summary>Labels go to class-conditional models only: 0 for the others.</summary>
    protected int Classes => Model.Kind == ModelKind.ClassConditional ? Model.Classes.Count : 0;

    public abstract Task<int> SendAsync(CancellationToken cancellationToken);

    public abstract void Dispose();

    /// <summary>The first seed of the next request (it takes this one and the <c>count - 1</c> after it).</summary>
    protected ulong NextSeed() => unchecked((ulong)Interlocked.Add(ref _nextSeed, Count) - (ulong)Count);

    /// <summary>The index of the client the next request goes through.</summary>
    protected int NextClient(int clients) => (int)((ulong)Interlocked.Increment(ref _nextClient) % (ulong)clients);

    /// <summary>The images of a server stream, read to its end.</summary>
    protected static async Task<int> CountAsync(IAsyncEnumerable<GeneratedImage> images)
    {
        var count = 0;
        await foreach (var _ in images.ConfigureAwait(false))
        {
            count++;
        }

        return count;
    }

    /// <summary>The label gan.v1 gives seed <paramref name="seed"/> when a request names none: seed mod classes.</summary>
    protected static int LabelOf(ulong seed, int classes) => (int)(seed % (ulong)classes);
}

/// <summary>gan.v1: <c>Generate</c> (or with <c>stream</c> <c>GenerateStream</c>) with <c>count</c> and the first seed (labels left to the server's default).</summary>
internal sealed class GanV1BenchTarget(IReadOnlyList<GanClient> clients, ModelInfo model, int count, ImageFormat format, TimeSpan deadline, ulong firstSeed, bool stream = false)
    : BenchTarget(model, count, deadline, firstSeed)
{
    public override string Rpc => stream ? "gan.v1.GanInference/GenerateStream" : "gan.v1.GanInference/Generate";

    public override string Protocol => "gan";

    public override Uri Address => clients[0].Address;

    public override async Task<int> SendAsync(CancellationToken cancellationToken)
    {
        var seed = NextSeed();
        var request = new GenerateRequest { Model = Model.Name, Count = (uint)Count, Seed = seed, Format = format };
        var client = clients[NextClient(clients.Count)];
        if (stream)
        {
            return await CountAsync(client.GenerateStreamAsync(request, Deadline, cancellationToken)).ConfigureAwait(false);
        }

        var response = await client.GenerateAsync(request, Deadline, cancellationToken).ConfigureAwait(false);
        return response.Images.Count;
    }

    public override void Dispose()
    {
        foreach (var client in clients)
        {
            client.Dispose();
        }
    }
}

/// <summary>
/// gan.v1 <c>GenerateFromText</c>: <c>count</c> captions per request, one image each, taken in turn from the list
/// (request k starts where request k-1 stopped), with the request's first seed.
/// </summary>
internal sealed class GanV1TextBenchTarget(IReadOnlyList<GanClient> clients, ModelInfo model, int count, ImageFormat format, TimeSpan deadline, ulong firstSeed, IReadOnlyList<string> captions, bool stream = false)
    : BenchTarget(model, count, deadline, firstSeed, seedDriven: false)
{
    private long _nextCaption;

    public override string Rpc => stream ? "gan.v1.GanInference/GenerateFromTextStream" : "gan.v1.GanInference/GenerateFromText";

    public override string Protocol => "gan";

    public override string Kind => BenchKinds.Text;

    public override Uri Address => clients[0].Address;

    public override async Task<int> SendAsync(CancellationToken cancellationToken)
    {
        var seed = NextSeed();
        var first = Interlocked.Add(ref _nextCaption, Count) - Count;
        var request = new GenerateFromTextRequest { Model = Model.Name, Count = 1, Seed = seed, Format = format };
        for (var i = 0; i < Count; i++)
        {
            request.Texts.Add(captions[(int)((ulong)(first + i) % (ulong)captions.Count)]);
        }

        var client = clients[NextClient(clients.Count)];
        if (stream)
        {
            return await CountAsync(client.GenerateFromTextStreamAsync(request, Deadline, cancellationToken)).ConfigureAwait(false);
        }

        var response = await client.GenerateFromTextAsync(request, Deadline, cancellationToken).ConfigureAwait(false);
        return response.Images.Count;
    }

    public override void Dispose()
    {
        foreach (var client in clients)
        {
            client.Dispose();
        }
    }
}

/// <summary>
/// gan.v1 <c>Translate</c>: <c>count</c> encoded images per request, taken in turn from the files of <c>--images</c>
/// (read once; the requests share their bytes).
/// </summary>
internal sealed class GanV1TranslateBenchTarget(IReadOnlyList<GanClient> clients, ModelInfo model, int count, ImageFormat format, TimeSpan deadline, IReadOnlyList<Google.Protobuf.ByteString> images, bool stream = false)
    : BenchTarget(model, count, deadline, 0, seedDriven: false)
{
    private long _nextImage;

    public override string Rpc => stream ? "gan.v1.GanInference/TranslateStream" : "gan.v1.GanInference/Translate";

    public override string Protocol => "gan";

    public override string Kind => BenchKinds.Translate;

    public override Uri Address => clients[0].Address;

    public override async Task<int> SendAsync(CancellationToken cancellationToken)
    {
        var first = Interlocked.Add(ref _nextImage, Count) - Count;
        if (stream)
        {
            return await StreamAsync(clients[NextClient(clients.Count)], first, cancellationToken).ConfigureAwait(false);
        }

        var request = new TranslateRequest { Model = Model.Name, Format = format };
        for (var i = 0; i < Count; i++)
        {
            request.Images.Add(new InputImage { Data = images[(int)((ulong)(first + i) % (ulong)images.Count)] });
        }

        var response = await clients[NextClient(clients.Count)].Stub
            .TranslateAsync(request, deadline: DateTime.UtcNow + Deadline, cancellationToken: cancellationToken).ResponseAsync.ConfigureAwait(false);
        return response.Images.Count;
    }

    /// <summary>One TranslateStream call of <c>count</c> images (the first message names model and format), answers read as they come.</summary>
    private async Task<int> StreamAsync(GanClient client, long first, CancellationToken cancellationToken)
    {
        using var call = client.Stub.TranslateStream(deadline: DateTime.UtcNow + Deadline, cancellationToken: cancellationToken);
        var reading = ReadAsync(call.ResponseStream, cancellationToken);
        for (var i = 0; i < Count; i++)
        {
            var message = new TranslateStreamRequest { Image = new InputImage { Data = images[(int)((ulong)(first + i) % (ulong)images.Count)] } };
            if (i == 0)
            {
                (message.Model, message.Format) = (Model.Name, format);
            }

            await call.RequestStream.WriteAsync(message, cancellationToken).ConfigureAwait(false);
        }

        await call.RequestStream.CompleteAsync().ConfigureAwait(false);
        return await reading.ConfigureAwait(false);
    }

    /// <summary>Counts the translated images; an image's error fails the request with that image's status.</summary>
    private static async Task<int> ReadAsync(Grpc.Core.IAsyncStreamReader<TranslateStreamResponse> answers, CancellationToken cancellationToken)
    {
        var count = 0;
        while (await answers.MoveNext(cancellationToken).ConfigureAwait(false))
        {
            if (answers.Current.ResultCase == TranslateStreamResponse.ResultOneofCase.Error)
            {
                throw new Grpc.Core.RpcException(new Grpc.Core.Status((Grpc.Core.StatusCode)answers.Current.Error.Code, answers.Current.Error.Message));
            }

            count++;
        }

        return count;
    }

    public override void Dispose()
    {
        foreach (var client in clients)
        {
            client.Dispose();
        }
    }
}

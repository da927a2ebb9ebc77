using System.CommandLine;
using System.Text.Json;
using GanInference.Api.V1;
using GanInference.Cli.Bench;
using GanInference.Cli.Imaging;
using GanInference.Client;
using GanInference.Core.Imaging;
using GanInference.Core.Runtime;
using Spectre.Console;

namespace GanInference.Cli.Commands;

/// <summary>
/// `gan bench`: a load generator against the server (closed loop by concurrency, open loop by rate), or
/// with <c>--in-process</c> the same model straight in ONNX Runtime as the ceiling to compare with.
/// </summary>
internal static class BenchCommand
{
    private sealed class Options
    {
        public Option<string?> Model { get; } = new("--model", "-m") { Description = "Model name on the server" };
        public Option<TimeSpan> Duration { get; } = CliOptions.Duration("--duration", "Measured phase", TimeSpan.FromSeconds(30));
        public Option<TimeSpan> Warmup { get; } = CliOptions.Duration("--warmup", "Load before measuring (not recorded)", TimeSpan.FromSeconds(5));
        public Option<int> Concurrency { get; } = CliOptions.Positive("--concurrency", "Closed loop: requests in flight", 8);
        public Option<double?> Rate { get; } = new("--rate") { Description = "Open loop: requests per second on a fixed schedule (latency from each request's intended send time)" };
        public Option<int> Connections { get; } = CliOptions.Positive("--connections", "Channels the requests are spread over (separate clients, separate TCP connections)", 1);
        public Option<int> MaxInFlight { get; } = CliOptions.Positive("--max-in-flight", "Open loop: cap on outstanding requests", 10_000);
        public Option<int> Count { get; } = CliOptions.Positive("--count", "Images per request", 1);
        public Option<ImageFormat> Format { get; } = CliOptions.Format("Image format of the replies", ImageFormat.Png, "png", "jpeg", "raw-u8", "raw-f32");
        public Option<ulong> Seed { get; } = new("--seed") { Description = "First seed; each request takes the next --count seeds", DefaultValueFactory = _ => 0 };
        public Option<string?> Json { get; } = new("--json") { Description = "Also write the report as JSON to this file" };
        public Option<string?> Plot { get; } = new("--plot") { Description = "Draw latency over time and the latency histogram to this PNG" };
        public Option<string?> Ceiling { get; } = new("--ceiling") { Description = "An `--in-process --json` file: print this run's ratio to it" };
        public Option<string> Protocol { get; } = new Option<string>("--protocol")
        {
            HelpName = "gan|oip|rest",
            Description = "What the load speaks: gan (gan.v1 Generate), oip (Open Inference Protocol ModelInfer over gRPC, on --server) or rest (OIP POST /v2/models/{m}/infer, JSON over HTTP/1.1, on --http)",
            DefaultValueFactory = _ => "gan",
        }.AcceptOnlyFromAmong("gan", "oip", "rest");
        public Option<string?> Http { get; } = new("--http") { Description = "--protocol rest: the server's HTTP/1.1 listener (Http:Urls; default: --server's host, port 8000)" };
        public Option<string?> MetricsUrl { get; } = new("--metrics-url") { Description = "Prometheus endpoint (default: <server>/metrics, else the server host's HTTP listener at :8000 or :9464)" };
        public Option<bool> InProcess { get; } = new("--in-process") { Description = "Run --model-dir straight in ONNX Runtime, no server (the ceiling)" };
        public Option<string?> ModelDirectory { get; } = new("--model-dir") { Description = "In-process: the model folder (gan.json + ONNX)" };
        public Option<int[]> Batches { get; } = CliOptions.IntList("--batch", "In-process: batch sizes", [1, 8, 32, 64]);
        public Option<int> ParallelRuns { get; } = CliOptions.Positive("--parallel-runs", "In-process: runs in flight at once on the one session, each on its own thread (does a second concurrent run add throughput?)", 1);
        public Option<string> Provider { get; } = new("--provider") { Description = "In-process: cpu or cuda[:N]", DefaultValueFactory = _ => "cpu" };
        public Option<int> Threads { get; } = new("--threads") { Description = "In-process: ONNX Runtime intra-op threads (0 = its default), as the server's Inference:IntraOpThreads" };
        public Option<bool> Spinning { get; } = new("--spinning") { Description = "In-process: let intra-op threads spin, as the server's Inference:IntraOpSpinning (off by default there too)" };
        public Option<string?> Kind { get; } = new Option<string?>("--kind")
        {
            HelpName = "seeds|text|translate",
            Description = "The work measured: seeds (Generate), text (GenerateFromText with captions) or translate (Translate of --images); default: what the model's kind takes",
        }.AcceptOnlyFromAmong(BenchKinds.Seeds, BenchKinds.Text, BenchKinds.Translate);
        public TextSelection Texts { get; } = new();
        public Option<bool> Stream { get; } = new("--stream") { Description = "--protocol gan: send each request as one streaming call of --count images (GenerateStream, GenerateFromTextStream or TranslateStream)" };
        public Option<int> StreamWindow { get; } = new("--stream-window")
        {
            HelpName = "BYTES",
            Description = "Each call's HTTP/2 receive window at its start (65535..16777216; the client's InitialStreamWindowBytes)",
            DefaultValueFactory = _ => GanClientOptions.DefaultInitialStreamWindowBytes,
        };
        public Option<string?> Images { get; } = new("--images") { Description = "--kind translate: a folder whose PNG/JPEG files (all of them, in name order) are sent in turn, --count per request (examples/ has some)" };

        public IEnumerable<Option> All =>
        [
            Model, Kind, Protocol, Http, Duration, Warmup, Concurrency, Rate, Connections, MaxInFlight, Count, Format, Seed, Stream, StreamWindow, Texts.Texts, Texts.TextsFile, Images, Json, Plot, Ceiling, MetricsUrl,
            InProcess, ModelDirectory, Batches, ParallelRuns, Provider, Threads, Spinning,
        ];
    }

    public static Command Create(CliHost host, ServerConnection connection)
    {
        var options = new Options();
        var command = new Command("bench", "Load-test the server (closed or open loop), or measure the in-process ONNX Runtime ceiling.");
        foreach (var option in options.All)
        {
            command.Options.Add(option);
        }

        CommandRunner.SetAction(command, host, connection, async (parse, cancellationToken) =>
        {
            // The list is made here so that what the run's async methods add to it is seen in the finally block.
            CreatedFolders.Value = [];
            try
            {
                return await (parse.GetValue(options.InProcess)
                    ? RunInProcessAsync(host, parse, options, cancellationToken)
                    : RunAgainstServerAsync(host, connection, parse, options, cancellationToken)).ConfigureAwait(false);
            }
            finally
            {
                // Folders made for --json/--plot are removed again when the run failed before writing them.
                foreach (var created in CreatedFolders.Value ?? [])
                {
                    OutputFiles.RemoveIfNoFiles(created);
                }

                CreatedFolders.Value = null;
            }
        });
        return command;
    }

    private static readonly AsyncLocal<List<string>?> CreatedFolders = new();

    private static async Task<int> RunAgainstServerAsync(CliHost host, ServerConnection connection, ParseResult parse, Options o, CancellationToken cancellationToken)
    {
        var modelName = parse.GetValue(o.Model) ?? throw new CliException("--model is required (or --in-process --model-dir DIR).");
        var duration = parse.GetValue(o.Duration);
        if (duration <= TimeSpan.Zero)
        {
            throw new CliException("--duration must be positive.");
        }

        var rate = parse.GetValue(o.Rate);
        if (rate is { } r && !(r > 0 && double.IsFinite(r)))
        {
            throw new CliException($"--rate must be a positive number of requests per second, not {r}.");
        }

        if (rate is not null && parse.GetResult(o.Concurrency) is { Implicit: false })
        {
            throw new CliException("--rate (open loop) and --concurrency (closed loop) are exclusive.");
        }

        var jsonPath = PrepareOutputFile(parse.GetValue(o.Json), "--json");
        var plotPath = PrepareOutputFile(parse.GetValue(o.Plot), "--plot");
        (string Path, CeilingReport Report)? ceiling = parse.GetValue(o.Ceiling) is { } ceilingPath ? ReadCeiling(ceilingPath) : null;

        var clientOptions = LoadOptions(connection, parse, o, retries: true);
        using var control = new GanClient(clientOptions);
        var model = await ModelLookup.GetAsync(control, modelName, cancellationToken).ConfigureAwait(false);
        var kind = KindFor(parse, o, model.Kind, $"model '{model.Name}' is {ModelLookup.KindName(model.Kind)}");
        if (ceiling is { } c && c.Report.Kind != kind)
        {
            throw new CliException($"--ceiling '{c.Path}' measured --kind {c.Report.Kind}; this run is --kind {kind}: compare like with like.");
        }

        // The load itself is not retried: every failure must show up in the report.
        using var target = await CreateTargetAsync(connection, parse, o, model, kind, clientOptions, cancellationToken).ConfigureAwait(false);
        // With several replicas the server-side figures are the first replica's (the report names the endpoint read).
        var metricsHost = HttpBase(clientOptions.Address);
        IReadOnlyList<Uri> metricsCandidates = parse.GetValue(o.MetricsUrl) is not { } url ? ServerMetricsScraper.DefaultCandidates(metricsHost)
            : Uri.TryCreate(url, UriKind.Absolute, out var parsed) && parsed.Scheme is "http" or "https" ? [parsed]
            : throw new CliException($"--metrics-url: '{url}' is not an http:// or https:// address.");
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        // The key goes only to the server's own host (its gRPC port or its HTTP listener), never elsewhere.
        var metrics = new ServerMetricsScraper(http, metricsCandidates, clientOptions.ApiKey, metricsHost.Host);

        var settings = new LoadSettings(duration, parse.GetValue(o.Warmup), parse.GetValue(o.Concurrency), rate, parse.GetValue(o.MaxInFlight));
        host.Console.WriteLine($"warming up for {settings.Warmup.TotalSeconds:F0}s, then measuring for {settings.Duration.TotalSeconds:F0}s ...");
        var before = new MetricsSnapshot(null, null, null);
        var result = await new LoadGenerator(target.SendAsync, settings, host.Abandon)
            .RunAsync(async () => before = await metrics.SnapshotAsync(cancellationToken).ConfigureAwait(false), cancellationToken)
            .ConfigureAwait(false);
        // Read even when interrupted: the partial report is still worth printing.
        var after = await metrics.SnapshotAsync(CancellationToken.None).ConfigureAwait(false);

        var server = target is OipRestBenchTarget ? target.Address.ToString().TrimEnd('/') : control.Endpoints;
        var report = BenchReport.Create(server, model, target, settings, parse.GetValue(o.Connections), parse.GetValue(o.Format), parse.GetValue(o.Count), result, metrics.Url, before, after, ceiling);
        BenchReportPrinter.Print(host.Console, report);
        if (jsonPath is not null)
        {
            await OutputFiles.WriteAtomicallyAsync(jsonPath, JsonSerializer.SerializeToUtf8Bytes(report, BenchJsonContext.Default.BenchReport)).ConfigureAwait(false);
            host.Console.WriteLine($"wrote {jsonPath}");
        }

        if (plotPath is not null)
        {
            await OutputFiles.WriteAtomicallyAsync(plotPath, BenchPlot.RenderPng(result.Recorder.Samples(), report)).ConfigureAwait(false);
            host.Console.WriteLine($"wrote {plotPath}");
        }

        if (result.Interrupted)
        {
            var abandoned = result.Recorder.Errors.TryGetValue($"{Grpc.Core.StatusCode.Cancelled}: {LoadGenerator.AbandonedMessage}", out var n) ? n : 0;
            throw new CliException(
                $"interrupted after {result.Elapsed.TotalSeconds:F1}s of the measured phase; the report covers that part"
                + (abandoned > 0 ? $" ({abandoned} requests in flight were abandoned by the second interrupt and are counted as Cancelled)." : "."),
                ExitCodes.Interrupted);
        }

        return ExitCodes.Success;
    }

    /// <summary>
    /// --kind, or the kind the model takes: seeds for unconditional and class-conditional models, text for
    /// text-conditional ones (and pipelines), translate for image-to-image ones. A --kind the model cannot do is refused,
    /// and so are --texts/--texts-file and --images where the kind does not use them.
    /// </summary>
    private static string KindFor(ParseResult parse, Options o, ModelKind modelKind, string what)
    {
        var natural = BenchKinds.For(modelKind);
        var kind = parse.GetValue(o.Kind) ?? natural;
        if (kind != natural)
        {
            throw new CliException($"--kind {kind}: {what}, which `gan bench` measures with --kind {natural}.");
        }

        if (kind != BenchKinds.Text && o.Texts.IsGiven(parse))
        {
            throw new CliException($"--texts / --texts-file are the captions of --kind text; this run is --kind {kind}.");
        }

        if (kind != BenchKinds.Translate && parse.GetValue(o.Images) is not null)
        {
            throw new CliException($"--images are the inputs of --kind translate; this run is --kind {kind}.");
        }

        return kind;
    }

    /// <summary>The PNG/JPEG files of --images, in name order (a folder that holds none is refused).</summary>
    private static async Task<IReadOnlyList<byte[]>> ReadImagesAsync(ParseResult parse, Options o, CancellationToken cancellationToken)
    {
        var folder = parse.GetValue(o.Images) ?? throw new CliException("--kind translate needs --images FOLDER: PNG/JPEG files to send (examples/outlines and examples/digits hold some).");
        if (!Directory.Exists(folder))
        {
            throw new CliException($"--images: folder '{folder}' does not exist.");
        }

        var files = Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories)
            .Where(f => Path.GetExtension(f).ToLowerInvariant() is ".png" or ".jpg" or ".jpeg")
            .Order(StringComparer.Ordinal)
            .ToArray();
        if (files.Length == 0)
        {
            throw new CliException($"--images: folder '{folder}' holds no .png, .jpg or .jpeg files.");
        }

        var images = new List<byte[]>(files.Length);
        foreach (var file in files)
        {
            try
            {
                images.Add(await File.ReadAllBytesAsync(file, cancellationToken).ConfigureAwait(false));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new CliException($"--images: cannot read '{file}': {e.Message}");
            }
        }

        return images;
    }

    /// <summary>The captions of --texts/--texts-file, else null (the bench builds some from the model's words).</summary>
    private static async Task<IReadOnlyList<string>?> ReadCaptionsAsync(ParseResult parse, Options o, CancellationToken cancellationToken) =>
        o.Texts.IsGiven(parse) ? await o.Texts.ReadAsync(parse, cancellationToken).ConfigureAwait(false) : null;

    /// <summary>The requests of --kind and --protocol, spread over --connections channels (gRPC) or HTTP clients (REST).</summary>
    private static async Task<BenchTarget> CreateTargetAsync(
        ServerConnection connection, ParseResult parse, Options o, ModelInfo model, string kind, GanClientOptions clientOptions, CancellationToken cancellationToken)
    {
        var connections = parse.GetValue(o.Connections);
        var (count, format, seed) = (parse.GetValue(o.Count), parse.GetValue(o.Format), parse.GetValue(o.Seed));
        var deadline = clientOptions.UnaryDeadline ?? TimeSpan.FromSeconds(30);
        var protocol = parse.GetValue(o.Protocol);
        if (protocol != "rest" && parse.GetValue(o.Http) is not null)
        {
            throw new CliException($"--http is the REST address of --protocol rest; --protocol {protocol} sends to --server.");
        }

        if (kind != BenchKinds.Seeds && protocol != "gan")
        {
            throw new CliException($"--protocol {protocol} measures seed-driven Generate only; --kind {kind} runs over --protocol gan.");
        }

        var stream = parse.GetValue(o.Stream);
        if (stream && protocol != "gan")
        {
            throw new CliException($"--stream: --protocol {protocol} has no streaming calls; use --protocol gan.");
        }

        GanClient[] Clients() => Enumerable.Range(0, connections).Select(_ => new GanClient(LoadOptions(connection, parse, o, retries: false))).ToArray();
        if (kind == BenchKinds.Text)
        {
            var captions = await ReadCaptionsAsync(parse, o, cancellationToken).ConfigureAwait(false)
                ?? BenchKinds.BuiltInCaptions(model.Vocabulary, (int)model.MaxTextTokens);
            return new GanV1TextBenchTarget(Clients(), model, count, format, deadline, seed, captions, stream);
        }

        if (kind == BenchKinds.Translate)
        {
            var images = await ReadImagesAsync(parse, o, cancellationToken).ConfigureAwait(false);
            return new GanV1TranslateBenchTarget(Clients(), model, count, format, deadline, images.Select(Google.Protobuf.ByteString.CopyFrom).ToArray(), stream);
        }

        switch (protocol)
        {
            case "oip":
            {
                OipBench.OutputFor(format, "oip");
                var channelOptions = LoadOptions(connection, parse, o, retries: false);
                var channels = Enumerable.Range(0, connections).Select(_ => GanClient.CreateChannel(channelOptions)).ToArray();
                return new OipGrpcBenchTarget(channels, clientOptions.Address, model, count, format, deadline, seed);
            }

            case "rest":
            {
                OipBench.OutputFor(format, "rest");
                var http = RestAddress(parse.GetValue(o.Http), HttpBase(clientOptions.Address));
                var clients = Enumerable.Range(0, connections).Select(_ => OipRestBenchTarget.CreateClient()).ToArray();
                return new OipRestBenchTarget(clients, http, clientOptions.ApiKey, model, count, format, deadline, seed);
            }

            default:
                return new GanV1BenchTarget(Clients(), model, count, format, deadline, seed, stream);
        }
    }

    /// <summary>The client options of the load and its control calls: --server's, with --stream-window.</summary>
    private static GanClientOptions LoadOptions(ServerConnection connection, ParseResult parse, Options o, bool retries)
    {
        var window = parse.GetValue(o.StreamWindow);
        if (window is < GanClientOptions.MinInitialStreamWindowBytes or > GanClientOptions.MaxInitialStreamWindowBytes)
        {
            throw new CliException($"--stream-window must be {GanClientOptions.MinInitialStreamWindowBytes}..{GanClientOptions.MaxInitialStreamWindowBytes} bytes (HTTP/2's window limits), not {window}.");
        }

        var options = connection.CreateOptions(parse, retries);
        options.InitialStreamWindowBytes = window;
        return options;
    }

    /// <summary>
    /// The first --server address as an http:// base on the server's host: itself for http(s)://, http://host:port for
    /// dns:///host:port, and http://localhost:5000 for a unix:/// socket (a server on a socket is on this host).
    /// </summary>
    private static Uri HttpBase(Uri server) => server.Scheme switch
    {
        "dns" => new Uri($"http://{server.AbsolutePath.TrimStart('/')}"),
        "unix" => new Uri(GanClientOptions.DefaultAddress),
        _ => server,
    };

    /// <summary>--http, or the server's HTTP/1.1 listener at its default port (8000) on --server's host.</summary>
    private static Uri RestAddress(string? text, Uri server)
    {
        if (text is null)
        {
            return new UriBuilder(Uri.UriSchemeHttp, server.Host, 8000).Uri;
        }

        return Uri.TryCreate(text, UriKind.Absolute, out var address) && address.Scheme is "http" or "https" && address.AbsolutePath == "/"
            ? address
            : throw new CliException($"--http: '{text}' is not an http:// or https:// address (scheme, host and port, e.g. http://localhost:8000).");
    }

    private static async Task<int> RunInProcessAsync(CliHost host, ParseResult parse, Options o, CancellationToken cancellationToken)
    {
        var directory = parse.GetValue(o.ModelDirectory) ?? throw new CliException("--in-process needs --model-dir DIR (a folder with gan.json and the ONNX file).");
        var batches = parse.GetValue(o.Batches)!;
        if (batches.Any(b => b < 1 || b > 65_536))
        {
            throw new CliException($"--batch: every size must be between 1 and 65536, not {string.Join(",", batches)}.");
        }

        var duration = parse.GetValue(o.Duration);
        if (duration <= TimeSpan.Zero)
        {
            throw new CliException("--duration must be positive.");
        }

        var jsonPath = PrepareOutputFile(parse.GetValue(o.Json), "--json");
        var kind = parse.GetValue(o.Kind);
        var work = new InProcessWork(
            kind,
            await ReadCaptionsAsync(parse, o, cancellationToken).ConfigureAwait(false),
            kind == BenchKinds.Translate || parse.GetValue(o.Images) is not null ? await ReadImagesAsync(parse, o, cancellationToken).ConfigureAwait(false) : null,
            new ImageEncoding(parse.GetValue(o.Format) switch
            {
                ImageFormat.Jpeg => ImageFormatKind.Jpeg,
                ImageFormat.RawU8 => ImageFormatKind.RawU8,
                ImageFormat.RawF32 => ImageFormatKind.RawF32,
                _ => ImageFormatKind.Png,
            }));
        var bench = new InProcessBench(directory, InferenceSettings(parse, o), work, parse.GetValue(o.ParallelRuns));
        var report = await bench.RunAsync(
            batches,
            parse.GetValue(o.Warmup),
            duration,
            r => host.Console.WriteLine($"batch {r.Batch}: {r.ImagesPerSecond:F1} images/s"),
            cancellationToken).ConfigureAwait(false);
        BenchReportPrinter.PrintCeiling(host.Console, report);
        if (jsonPath is not null)
        {
            await OutputFiles.WriteAtomicallyAsync(jsonPath, JsonSerializer.SerializeToUtf8Bytes(report, BenchJsonContext.Default.CeilingReport)).ConfigureAwait(false);
            host.Console.WriteLine($"wrote {jsonPath}");
        }

        return ExitCodes.Success;
    }

    /// <summary>The server's <c>Inference</c> settings for the in-process session: cpu or cuda[:N], threads, spinning.</summary>
    private static InferenceOptions InferenceSettings(ParseResult parse, Options o)
    {
        var provider = parse.GetValue(o.Provider)!.Trim().ToLowerInvariant();
        var parts = provider.Split(':', 2);
        if (parts[0] is not (InferenceOptions.CpuProvider or InferenceOptions.CudaProvider)
            || (parts.Length == 2 && (parts[0] != InferenceOptions.CudaProvider || !int.TryParse(parts[1], out _))))
        {
            throw new CliException($"--provider must be cpu or cuda[:N], not '{provider}'.");
        }

        var threads = parse.GetValue(o.Threads);
        if (threads < 0)
        {
            throw new CliException($"--threads must be 0 (ONNX Runtime's choice) or more, not {threads}.");
        }

        return new InferenceOptions
        {
            ExecutionProvider = parts[0],
            DeviceId = parts.Length == 2 ? int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture) : 0,
            IntraOpThreads = threads,
            IntraOpSpinning = parse.GetValue(o.Spinning),
        };
    }

    /// <summary>Checks the file's folder is writable before the run, so a long benchmark is not lost at the end.</summary>
    private static string? PrepareOutputFile(string? path, string optionName)
    {
        if (path is null)
        {
            return null;
        }

        var full = Path.GetFullPath(path);
        OutputFiles.PrepareFolder(Path.GetDirectoryName(full)!, optionName, out var created);
        if (created is not null)
        {
            CreatedFolders.Value?.Add(created);
        }

        return full;
    }

    private static (string, CeilingReport) ReadCeiling(string path)
    {
        try
        {
            var report = JsonSerializer.Deserialize(File.ReadAllText(path), BenchJsonContext.Default.CeilingReport)
                ?? throw new CliException($"--ceiling '{path}': empty file.");
            return (path, report);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CliException($"--ceiling: cannot read '{path}': {e.Message}");
        }
        catch (JsonException e)
        {
            throw new CliException($"--ceiling '{path}': not a `gan bench --in-process --json` file: {e.Message}");
        }
    }
}

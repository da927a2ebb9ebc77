namespace GanInference.Client;

/// <summary>
/// Settings of a <see cref="GanClient"/>; bind them from configuration (section <see cref="SectionName"/>)
/// or set them in code.
/// </summary>
public sealed class GanClientOptions
{
    /// <summary>The configuration section these options are usually bound from.</summary>
    public const string SectionName = "GanClient";

    /// <summary>The server's address used when nothing else is configured.</summary>
    public const string DefaultAddress = "http://127.0.0.1:5000";

    /// <summary>
    /// The server's address: <c>http://host:port</c> or <c>https://host:port</c> for one server,
    /// <c>dns:///host:port</c> for every address a name resolves to (a Kubernetes headless Service; calls are balanced
    /// round-robin and the name is re-resolved every <see cref="DnsRefreshInterval"/>), or <c>unix:///path/to.sock</c>
    /// for a server on a Unix domain socket. Ignored when <see cref="Addresses"/> holds anything.
    /// </summary>
    public Uri Address { get; set; } = new(DefaultAddress);

    /// <summary>
    /// Several replicas (<c>http://</c> or <c>https://</c>, all the same scheme), balanced round-robin per call; a call
    /// that fails with UNAVAILABLE before any reply is retried on another replica (<see cref="Retry"/>). When empty (the
    /// default), <see cref="Address"/> is used.
    /// </summary>
    public IList<Uri> Addresses { get; set; } = [];

    /// <summary>How often a <c>dns:///</c> address is resolved again, so replicas added by an autoscaler get calls too.</summary>
    public TimeSpan DnsRefreshInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Deadline applied to unary calls that do not pass their own; <see langword="null"/> for none.
    /// </summary>
    public TimeSpan? UnaryDeadline { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Deadline applied to streaming calls that do not pass their own; <see langword="null"/> (the default)
    /// for none, because a long dataset stream may legitimately run for hours.
    /// </summary>
    public TimeSpan? StreamDeadline { get; set; }

    /// <summary>
    /// Largest reply the client accepts, in bytes. Images are big: 64 RAW_F32 RGB images of 256x256 are
    /// about 50 MiB, far beyond gRPC's 4 MiB default.
    /// </summary>
    public int MaxReceiveMessageSize { get; set; } = 64 * 1024 * 1024;

    /// <summary>Largest request the client sends, in bytes (explicit latents and input images).</summary>
    public int MaxSendMessageSize { get; set; } = 64 * 1024 * 1024;

    /// <summary>How long to wait for a TCP connection before the call fails with UNAVAILABLE.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Open extra HTTP/2 connections when one connection's concurrent-stream limit is reached, so many
    /// concurrent calls (a load test) are not queued inside the client.
    /// </summary>
    public bool EnableMultipleHttp2Connections { get; set; } = true;

    /// <summary>Default of <see cref="InitialStreamWindowBytes"/>: 4 MiB, more than a 16-image 256² RAW_U8 reply (3 MiB).</summary>
    public const int DefaultInitialStreamWindowBytes = 4 * 1024 * 1024;

    /// <summary>Smallest <see cref="InitialStreamWindowBytes"/>: HTTP/2's own initial window.</summary>
    public const int MinInitialStreamWindowBytes = 65_535;

    /// <summary>Largest <see cref="InitialStreamWindowBytes"/>: SocketsHttpHandler's default ceiling for a stream window.</summary>
    public const int MaxInitialStreamWindowBytes = 16 * 1024 * 1024;

    /// <summary>
    /// HTTP/2 receive window of each call at its start, in bytes (SocketsHttpHandler's
    /// <c>InitialHttp2StreamWindowSize</c>; 65,535..16 MiB). HTTP/2's own 64 KiB makes the server stop after every
    /// 64 KiB of an image reply and wait for the client's window update, which costs the server an awaited flush (and
    /// its allocation) per 64 KiB until the window has grown; a window as large as a reply lets the server write
    /// it in one go. Memory is taken only as data arrives.
    /// </summary>
    public int InitialStreamWindowBytes { get; set; } = DefaultInitialStreamWindowBytes;

    /// <summary>Retries of calls that fail with UNAVAILABLE.</summary>
    public GanRetryOptions Retry { get; set; } = new();

    /// <summary>
    /// The key of a server that requires one (its <c>Security:ApiKeys</c>), sent on every call as the header
    /// <c>authorization: Bearer &lt;key&gt;</c>; <see langword="null"/> (the default) sends no header. Keep it
    /// in the environment or a secrets store, not in source code.
    /// </summary>
    public string? ApiKey { get; set; }

    /// <summary>Throws <see cref="ArgumentException"/> naming the first setting that is out of range.</summary>
    public void Validate()
    {
        GanEndpoints.From(this);
        if (DnsRefreshInterval <= TimeSpan.Zero)
        {
            throw new ArgumentException($"{nameof(DnsRefreshInterval)} must be positive, not {DnsRefreshInterval}.", nameof(DnsRefreshInterval));
        }

        if (UnaryDeadline is { } unary && unary <= TimeSpan.Zero)
        {
            throw new ArgumentException($"{nameof(UnaryDeadline)} must be positive, not {unary}.", nameof(UnaryDeadline));
        }

        if (StreamDeadline is { } stream && stream <= TimeSpan.Zero)
        {
            throw new ArgumentException($"{nameof(StreamDeadline)} must be positive, not {stream}.", nameof(StreamDeadline));
        }

        if (MaxReceiveMessageSize <= 0)
        {
            throw new ArgumentException($"{nameof(MaxReceiveMessageSize)} must be positive, not {MaxReceiveMessageSize}.", nameof(MaxReceiveMessageSize));
        }

        if (MaxSendMessageSize <= 0)
        {
            throw new ArgumentException($"{nameof(MaxSendMessageSize)} must be positive, not {MaxSendMessageSize}.", nameof(MaxSendMessageSize));
        }

        if (InitialStreamWindowBytes is < MinInitialStreamWindowBytes or > MaxInitialStreamWindowBytes)
        {
            throw new ArgumentException($"{nameof(InitialStreamWindowBytes)} must be {MinInitialStreamWindowBytes:N0}..{MaxInitialStreamWindowBytes:N0} bytes, not {InitialStreamWindowBytes:N0}.", nameof(InitialStreamWindowBytes));
        }

        if (ConnectTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentException($"{nameof(ConnectTimeout)} must be positive, not {ConnectTimeout}.", nameof(ConnectTimeout));
        }

        if (ApiKey is { } key && (key.Length == 0 || key.Any(c => char.IsWhiteSpace(c) || char.IsControl(c))))
        {
            throw new ArgumentException($"{nameof(ApiKey)} must be a non-empty key without spaces or control characters (or null for none).", nameof(ApiKey));
        }

        Retry.Validate();
    }
}

/// <summary>
/// gRPC's built-in retry policy for UNAVAILABLE (server starting, restarting or draining): exponential
/// backoff with jitter, decided per call by the channel. With several replicas each attempt is balanced anew, so a retry
/// goes to another replica. gRPC retries a call only until its first reply message arrives: a unary call is retried
/// whole (nothing was delivered), a stream cut after some images is not (the caller resumes the rest, see
/// <c>docs/scaling.md</c>).
/// </summary>
public sealed class GanRetryOptions
{
    /// <summary>Total attempts including the first; 1 turns retries off. gRPC caps it at 5.</summary>
    public int MaxAttempts { get; set; } = 4;

    /// <summary>Backoff before the first retry (randomised between 0 and this by gRPC).</summary>
    public TimeSpan InitialBackoff { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>Upper bound of any backoff.</summary>
    public TimeSpan MaxBackoff { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Growth of the backoff after each retry.</summary>
    public double BackoffMultiplier { get; set; } = 2;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first setting that is out of range.</summary>
    public void Validate()
    {
        if (MaxAttempts is < 1 or > 5)
        {
            throw new ArgumentException($"Retry.{nameof(MaxAttempts)} must be between 1 and 5, not {MaxAttempts}.", nameof(MaxAttempts));
        }

        if (InitialBackoff <= TimeSpan.Zero || MaxBackoff < InitialBackoff)
        {
            throw new ArgumentException($"Retry.{nameof(InitialBackoff)} must be positive and not above Retry.{nameof(MaxBackoff)}.", nameof(InitialBackoff));
        }

        if (!(BackoffMultiplier >= 1))
        {
            throw new ArgumentException($"Retry.{nameof(BackoffMultiplier)} must be at least 1, not {BackoffMultiplier}.", nameof(BackoffMultiplier));
        }
    }
}

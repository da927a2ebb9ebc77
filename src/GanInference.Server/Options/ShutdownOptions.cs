namespace GanInference.Server.Options;

/// <summary>Graceful shutdown, bound from the <c>Shutdown</c> configuration section.</summary>
public sealed class ShutdownOptions
{
    /// <summary>Configuration section name.</summary>
    public const string SectionName = "Shutdown";

    /// <summary>
    /// After SIGTERM, how long health reports NOT_SERVING (and new calls get UNAVAILABLE) before the listeners
    /// close, so load balancers see the change before connections are refused. Default 0.
    /// </summary>
    public double NotServingDelaySeconds { get; set; }

    /// <summary>
    /// How long running calls may take to finish once shutdown begins. Calls still running then are ended with
    /// UNAVAILABLE (never dropped without an answer) and the process exits. Default 30.
    /// </summary>
    public double DrainTimeoutSeconds { get; set; } = 30;

    /// <summary>Time allowed after the drain timeout for the last answers to be written and sessions released.</summary>
    public static TimeSpan AnswerGrace => TimeSpan.FromSeconds(1);
}

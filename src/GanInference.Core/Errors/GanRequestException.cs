namespace GanInference.Core.Errors;

/// <summary>What went wrong with a request, independent of the transport (the server maps each to a gRPC status).</summary>
public enum GanErrorKind
{
    /// <summary>The named model is not loaded.</summary>
    NotFound,

    /// <summary>A request field is out of range or malformed.</summary>
    InvalidArgument,

    /// <summary>The request does not fit the model's kind.</summary>
    FailedPrecondition,

    /// <summary>The model's queue is full.</summary>
    ResourceExhausted,

    /// <summary>The server is shutting down or the model is being unloaded.</summary>
    Unavailable,

    /// <summary>The request's deadline passed before it could be served.</summary>
    DeadlineExceeded,
}

/// <summary>
/// A request the serving core refuses, with a message meant for the caller. Each subclass names one
/// <see cref="GanErrorKind"/>, so the transport layer needs a single mapping.
/// </summary>
public abstract class GanRequestException : Exception
{
    /// <summary>Creates the exception with a caller-facing message.</summary>
    protected GanRequestException(string message, Exception? innerException = null)
        : base(message, innerException)
    {
    }

    /// <summary>The kind of failure, which decides the status code.</summary>
    public abstract GanErrorKind Kind { get; }
}

/// <summary>An unknown model name; the message lists the models that are loaded.</summary>
public sealed class ModelNotFoundException(string model, IEnumerable<string> loadedModels)
    : GanRequestException(BuildMessage(model, loadedModels))
{
    /// <summary>The name that was asked for.</summary>
    public string Model { get; } = model;

    /// <inheritdoc />
    public override GanErrorKind Kind => GanErrorKind.NotFound;

    /// <summary>Longest part of a caller's name echoed back in a message (the rest is elided), so a huge name cannot blow up the reply headers.</summary>
    public const int MaxEchoedNameLength = 128;

    private static string BuildMessage(string model, IEnumerable<string> loadedModels)
    {
        var loaded = string.Join(", ", loadedModels.Order(StringComparer.Ordinal));
        var shown = model.Length <= MaxEchoedNameLength ? model : $"{model[..MaxEchoedNameLength]}... ({model.Length} characters)";
        return $"model '{shown}' is not loaded; loaded models: [{loaded}]";
    }
}

/// <summary>A request field that is malformed or out of range; the message names the field and the allowed range.</summary>
public sealed class InvalidFieldException(string field, string message)
    : GanRequestException($"{field}: {message}")
{
    /// <summary>The offending field, as named in the public API (e.g. <c>labels[3]</c>).</summary>
    public string Field { get; } = field;

    /// <inheritdoc />
    public override GanErrorKind Kind => GanErrorKind.InvalidArgument;
}

/// <summary>An operation that the model's kind does not support (e.g. Generate on an image-to-image model).</summary>
public sealed class ModelKindMismatchException(string message) : GanRequestException(message)
{
    /// <inheritdoc />
    public override GanErrorKind Kind => GanErrorKind.FailedPrecondition;
}

/// <summary>The model's batching queue is at its configured size.</summary>
public sealed class QueueFullException(string model, int maxQueueSize)
    : GanRequestException($"model '{model}' has {maxQueueSize} requests queued (its maxQueueSize); retry later")
{
    /// <inheritdoc />
    public override GanErrorKind Kind => GanErrorKind.ResourceExhausted;
}

/// <summary>The server or the model stopped accepting work.</summary>
public sealed class ServiceUnavailableException(string message) : GanRequestException(message)
{
    /// <inheritdoc />
    public override GanErrorKind Kind => GanErrorKind.Unavailable;
}

/// <summary>A request whose deadline passed while it waited; it was dropped before it cost compute.</summary>
public sealed class RequestExpiredException(string message) : GanRequestException(message)
{
    /// <inheritdoc />
    public override GanErrorKind Kind => GanErrorKind.DeadlineExceeded;
}

/// <summary>A reply that could not be sent in one message: refused before any work is done.</summary>
public sealed class ReplyTooLargeException(string message) : GanRequestException(message)
{
    /// <inheritdoc />
    public override GanErrorKind Kind => GanErrorKind.ResourceExhausted;
}

namespace GanInference.Core.Errors;

/// <summary>The configured execution provider cannot be used and CPU fallback is not allowed; the server must not start.</summary>
public sealed class ExecutionProviderUnavailableException(string message, Exception? innerException = null)
    : Exception(message, innerException);

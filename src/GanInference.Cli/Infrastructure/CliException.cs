namespace GanInference.Cli;

/// <summary>A failure the user can fix, reported as one line (no stack trace) with its exit code.</summary>
internal sealed class CliException : Exception
{
    public CliException(string message, int exitCode = ExitCodes.BadInput)
        : base(message)
    {
        ExitCode = exitCode;
    }

    public CliException(string message, Exception inner, int exitCode = ExitCodes.BadInput)
        : base(message, inner)
    {
        ExitCode = exitCode;
    }

    public int ExitCode { get; }
}

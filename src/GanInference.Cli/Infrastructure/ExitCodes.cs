namespace GanInference.Cli;

/// <summary>Process exit codes, so scripts can tell failures apart.</summary>
internal static class ExitCodes
{
    public const int Success = 0;
    public const int Failure = 1;
    public const int BadInput = 2;
    public const int ServerUnreachable = 3;
    public const int UnknownModel = 4;
    public const int Unauthenticated = 5;
    public const int Interrupted = 130;
}

namespace GanInference.Cli.Tests;

/// <summary>Runs the `gan` root command in-process with captured output.</summary>
internal static class CliRun
{
    public static async Task<CliResult> InvokeAsync(params string[] args) => await InvokeAsync(CancellationToken.None, args);

    public static async Task<CliResult> InvokeAsync(CancellationToken cancellationToken, params string[] args) =>
        await InvokeAsync(null, cancellationToken, args);

    /// <summary>Runs with these environment variables as the only ones the command sees (null: the process's own).</summary>
    public static async Task<CliResult> InvokeAsync(IReadOnlyDictionary<string, string?> environment, string[] args) =>
        await InvokeAsync(environment, CancellationToken.None, args);

    private static async Task<CliResult> InvokeAsync(IReadOnlyDictionary<string, string?>? environment, CancellationToken cancellationToken, string[] args)
    {
        var output = new SynchronizedStringWriter();
        var error = new SynchronizedStringWriter();
        var host = CliHost.ForWriters(output, error, environment is null ? null : name => environment.GetValueOrDefault(name));
        var exitCode = await GanCli.InvokeAsync(args, host, cancellationToken);
        return new CliResult(exitCode, output.ToString(), error.ToString());
    }

    /// <summary>A StringWriter safe to write from the progress renderer's thread and the command's.</summary>
    private sealed class SynchronizedStringWriter : StringWriter
    {
        private readonly Lock _lock = new();

        public override void Write(char value)
        {
            lock (_lock)
            {
                base.Write(value);
            }
        }

        public override void Write(string? value)
        {
            lock (_lock)
            {
                base.Write(value);
            }
        }

        public override void Write(char[] buffer, int index, int count)
        {
            lock (_lock)
            {
                base.Write(buffer, index, count);
            }
        }

        public override string ToString()
        {
            lock (_lock)
            {
                return base.ToString();
            }
        }
    }
}

internal sealed record CliResult(int ExitCode, string Output, string Error)
{
    public override string ToString() => $"exit {ExitCode}\nstdout:\n{Output}\nstderr:\n{Error}";
}

/// <summary>A temporary folder removed at the end of the test.</summary>
internal sealed class TempFolder : IDisposable
{
    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "gan-cli-test-" + Guid.NewGuid().ToString("N"));

    public TempFolder() => Directory.CreateDirectory(Path);

    public string Combine(params string[] parts) => System.IO.Path.Combine([Path, .. parts]);

    public void Dispose()
    {
        if (Directory.Exists(Path))
        {
            Directory.Delete(Path, recursive: true);
        }
    }
}

using Spectre.Console;

namespace GanInference.Cli;

/// <summary>
/// What the tool talks to outside itself: its output streams and environment. Tests pass captured writers
/// instead of the process's console.
/// </summary>
internal sealed class CliHost
{
    private const int RedirectedWidth = 200;

    public CliHost(TextWriter output, TextWriter error, IAnsiConsole console, Func<string, string?> environment)
    {
        Output = output;
        Error = error;
        Console = console;
        Environment = environment;
    }

    /// <summary>Plain output: help text, parse errors.</summary>
    public TextWriter Output { get; }

    /// <summary>One-line error messages.</summary>
    public TextWriter Error { get; }

    /// <summary>Tables, progress bars and reports.</summary>
    public IAnsiConsole Console { get; }

    /// <summary>Reads an environment variable (GAN_SERVER).</summary>
    public Func<string, string?> Environment { get; }

    /// <summary>
    /// Cancelled by a second interrupt (Ctrl-C) while the command is still finishing after the first: work that
    /// was being awaited to completion (a benchmark's requests in flight) is abandoned, and the partial result printed.
    /// </summary>
    public CancellationToken Abandon { get; init; }

    public static CliHost FromProcess()
    {
        var console = AnsiConsole.Console;
        if (System.Console.IsOutputRedirected)
        {
            // A pipe or file has no width; Spectre would assume 80 columns and wrap every table cell.
            console.Profile.Width = RedirectedWidth;
        }

        return new CliHost(System.Console.Out, System.Console.Error, console, System.Environment.GetEnvironmentVariable);
    }

    /// <summary>A host writing to the given writers, without colours or live rendering.</summary>
    public static CliHost ForWriters(TextWriter output, TextWriter error, Func<string, string?>? environment = null)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
            Out = new AnsiConsoleOutput(output),
        });
        console.Profile.Width = RedirectedWidth;
        return new CliHost(output, error, console, environment ?? (_ => null));
    }
}

using System.CommandLine.Help;
using System.CommandLine;
using GanInference.Cli.Commands;

namespace GanInference.Cli;

/// <summary>The `gan` root command and its subcommands.</summary>
internal static class GanCli
{
    public static RootCommand Create(CliHost host)
    {
        var connection = new ServerConnection(host);
        var root = new RootCommand("gan: list models, generate and translate images, build augmentation datasets and load-test a GanInference server.");
        root.Options.Add(connection.Server);
        root.Options.Add(connection.Timeout);
        root.Options.Add(connection.ApiKey);
        root.Subcommands.Add(ModelsCommand.Create(host, connection));
        root.Subcommands.Add(GenerateCommand.Create(host, connection));
        root.Subcommands.Add(DatasetCommand.Create(host, connection));
        root.Subcommands.Add(BenchCommand.Create(host, connection));
        root.Subcommands.Add(TranslateCommand.Create(host, connection));
        CliOptions.ApplyHelpDefaults(root);
        return root;
    }

    public static async Task<int> InvokeAsync(string[] args, CliHost host, CancellationToken cancellationToken = default)
    {
        // Signals are turned into cancellation by Program, so the same path runs in tests and in the tool.
        var configuration = new InvocationConfiguration { Output = host.Output, Error = host.Error, ProcessTerminationTimeout = null };
        var root = Create(host);
        var parse = root.Parse(args);
        var exitCode = await parse.InvokeAsync(configuration, cancellationToken).ConfigureAwait(false);
        // System.CommandLine has already printed the errors and usage; report them as bad input. `--help` is not bad
        // input even where the command has required options that it leaves out (its parse still lists them as errors).
        var help = root.Options.OfType<HelpOption>().FirstOrDefault()?.Action;
        return parse.Errors.Count > 0 && (help is null || parse.Action != help) ? ExitCodes.BadInput : exitCode;
    }
}

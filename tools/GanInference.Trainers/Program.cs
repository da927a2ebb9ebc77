using System.CommandLine;
using GanInference.Trainers.Cli;
using GanInference.Trainers.Data;
using Microsoft.Extensions.Logging;

using var loggers = LoggerFactory.Create(builder => builder.AddSimpleConsole(console =>
{
    console.SingleLine = true;
    console.TimestampFormat = "HH:mm:ss ";
}));
var logger = loggers.CreateLogger("GanInference.Trainers");

// Recorded in checkpoints and manifests as the training command (provenance).
var commandLine = "dotnet run --project tools/GanInference.Trainers -c Release -- " + string.Join(' ', args);
var root = new RootCommand("GanInference trainers: train, evaluate and export the MNIST generators.");
root.Subcommands.Add(TrainCommand.Create(loggers, commandLine));
foreach (var command in ToolCommands.Create(loggers, commandLine))
{
    root.Subcommands.Add(command);
}

try
{
    // Our own handler below prints bad input as one line; anything else keeps its stack trace.
    return await root.Parse(args).InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false }).ConfigureAwait(false);
}
catch (Exception e) when (e is DatasetException or FileNotFoundException or InvalidDataException or ArgumentException or IOException or GanInference.Trainers.Export.UnsupportedLayerException or GanInference.Trainers.Training.WrongKernelsException)
{
    // Bad input: one clear line naming the file or field, no stack trace.
    Log.CommandFailed(logger, e.Message);
    return 2;
}

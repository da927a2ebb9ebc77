using System.Runtime.InteropServices;
using GanInference.Cli;

// Ctrl-C (SIGINT) and SIGTERM cancel the command's token so it can stop cleanly (a dataset keeps a
// consistent manifest, a benchmark awaits its requests in flight and reports); a second signal abandons
// what is still being awaited (a benchmark reports at once, counting those requests as cancelled); a third
// ends the process at once.
using var cancellation = new CancellationTokenSource();
using var abandon = new CancellationTokenSource();
void Cancel(PosixSignalContext context)
{
    if (!cancellation.IsCancellationRequested)
    {
        context.Cancel = true;
        cancellation.Cancel();
    }
    else if (!abandon.IsCancellationRequested)
    {
        context.Cancel = true;
        abandon.Cancel();
    }
}

using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Cancel);
using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Cancel);
var host = CliHost.FromProcess();
return await GanCli.InvokeAsync(args, new CliHost(host.Output, host.Error, host.Console, host.Environment) { Abandon = abandon.Token }, cancellation.Token).ConfigureAwait(false);

using System.Runtime.InteropServices;
using GanInference.Cli;

// Ctrl-C (SIGINT) and SIGTERM cancel the command's token so it can stop cleanly (a dataset keeps a
// consistent manifest); a second signal, arriving after cancellation, ends the process at once.
using var cancellation = new CancellationTokenSource();
void Cancel(PosixSignalContext context)
{
    if (!cancellation.IsCancellationRequested)
    {
        context.Cancel = true;
        cancellation.Cancel();
    }
}

using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Cancel);
using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Cancel);
return await GanCli.InvokeAsync(args, CliHost.FromProcess(), cancellation.Token).ConfigureAwait(false);

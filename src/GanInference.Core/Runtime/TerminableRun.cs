using Microsoft.ML.OnnxRuntime;

namespace GanInference.Core.Runtime;

/// <summary>
/// Runs one ONNX Runtime <c>Run</c> that a cancellation token can stop while it runs: the token sets
/// <see cref="RunOptions.Terminate"/> (ONNX Runtime checks it between kernels), so a shutdown or a retire does
/// not wait for a long batch to finish. Every batch runner calls its session through this.
/// </summary>
internal static class TerminableRun
{
    public static void Execute<TState>(RunOptions runOptions, CancellationToken cancellationToken, TState state, Action<TState> run)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var registration = cancellationToken.Register(static options => ((RunOptions)options!).Terminate = true, runOptions);
        try
        {
            run(state);
        }
        catch (OnnxRuntimeException ex) when (cancellationToken.IsCancellationRequested)
        {
            throw new OperationCanceledException("the run was terminated (RunOptions.Terminate)", ex, cancellationToken);
        }
        finally
        {
            // Dispose waits for a callback that is running, so nothing sets Terminate after it is cleared here.
            registration.Dispose();
            runOptions.Terminate = false;
        }
    }
}

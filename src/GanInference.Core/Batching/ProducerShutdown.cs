namespace GanInference.Core.Batching;

/// <summary>
/// The end of a producer/consumer pair (a producer task feeding a request's consumer through a channel): however
/// the consumer finished (all read, left early, failed), the producer is cancelled and awaited, so nothing it
/// rented outlives the call. Its own error is the story only when it ended by itself.
/// </summary>
internal static class ProducerShutdown
{
    public static async Task StopAsync(CancellationTokenSource stop, Task producer)
    {
        await stop.CancelAsync().ConfigureAwait(false);
        try
        {
            await producer.ConfigureAwait(false);
        }
        catch (Exception) when (stop.IsCancellationRequested)
        {
            // The consumer left early or failed; the producer's error (if any) is not the story.
        }
    }
}

using GanInference.Core.Batching;

namespace GanInference.Core.Tests.Batching;

/// <summary>What the test executors of the batcher share: the outputs they write and how a test waits for their batches.</summary>
internal static class SquaringBatches
{
    /// <summary>Writes each input's square twice (two outputs per item), so every slice's outputs name their inputs.</summary>
    public static void WriteSquares(ReadOnlyMemory<BatchSlice<int, int>> slices)
    {
        foreach (var slice in slices.Span)
        {
            var source = slice.Inputs.Span;
            var target = slice.Outputs.Span;
            for (var i = 0; i < source.Length; i++)
            {
                target[2 * i] = source[i] * source[i];
                target[(2 * i) + 1] = source[i] * source[i];
            }
        }
    }

    /// <summary>Waits until <paramref name="batches"/> reaches <paramref name="count"/>, failing after <paramref name="patience"/>.</summary>
    public static async Task WaitForAsync(Func<int> batches, int count, TimeSpan patience)
    {
        var deadline = DateTime.UtcNow + patience;
        while (batches() < count)
        {
            Assert.True(DateTime.UtcNow < deadline, $"expected {count} batches, saw {batches()}");
            await Task.Delay(5);
        }
    }
}

using System.Buffers;
using GanInference.Core.Batching;
using Microsoft.ML.OnnxRuntime;

namespace GanInference.Core.Runtime;

/// <summary>One image of a batch: its pixels, already at the model's channels, size and input range.</summary>
/// <param name="Pixels">C_in·H·W floats.</param>
public readonly record struct TranslationItem(ReadOnlyMemory<float> Pixels);

/// <summary>
/// Runs batches of prepared images through an image-to-image session: the items are copied into one pooled
/// NCHW input, handed to ONNX Runtime as an <see cref="OrtValue"/> over that memory; the output is bound by
/// <see cref="BatchOutputBinding"/>, as in <see cref="GeneratorRunner"/>.
/// </summary>
/// <remarks>Safe for overlapping runs, as <see cref="GeneratorRunner"/>: each run takes its own <see cref="RunScratch"/>.</remarks>
internal sealed class TranslationRunner : IBatchExecutor<TranslationItem, float>, IDisposable
{
    private readonly InferenceSession _session;
    private readonly TranslationSignature _signature;
    private readonly string[] _inputNames;
    private readonly string[] _outputNames;
    private readonly RunScratchPool<RunScratch> _scratch;

    public TranslationRunner(InferenceSession session, TranslationSignature signature)
    {
        _session = session;
        _signature = signature;
        _inputNames = [signature.InputName];
        _outputNames = [signature.Model.OutputName];
        _scratch = new RunScratchPool<RunScratch>(() => new RunScratch(signature));
    }

    /// <inheritdoc />
    public ValueTask ExecuteAsync(ReadOnlyMemory<BatchSlice<TranslationItem, float>> slices, int itemCount, CancellationToken cancellationToken)
    {
        var scratch = _scratch.Rent();
        try
        {
            TerminableRun.Execute(scratch.RunOptions, cancellationToken, (Runner: this, Scratch: scratch, Slices: slices, Count: itemCount), static s => s.Runner.Run(s.Scratch, s.Slices.Span, s.Count));
        }
        finally
        {
            _scratch.Return(scratch);
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// One mid-grey image through the pooled, pre-bound path before the model is announced: it warms ONNX Runtime
    /// up and proves the graph really produces the declared output shape.
    /// </summary>
    public void WarmUp()
    {
        var output = new float[_signature.Model.OutputsPerItem];
        BatchSlice<TranslationItem, float>[] slices = [new(new[] { SampleItem() }, output, output.Length)];
        var scratch = _scratch.Rent();
        try
        {
            Run(scratch, slices, 1);
        }
        finally
        {
            _scratch.Return(scratch);
        }
    }

    /// <summary>The item of the warm-up and of the batch size profile: one mid-grey image.</summary>
    public TranslationItem SampleItem()
    {
        var input = new float[_signature.InputsPerItem];
        Array.Fill(input, (_signature.InputMin + _signature.InputMax) / 2);
        return new TranslationItem(input);
    }

    public void Dispose() => _scratch.Dispose();

    private void Run(RunScratch scratch, ReadOnlySpan<BatchSlice<TranslationItem, float>> slices, int itemCount)
    {
        var inputsPerItem = _signature.InputsPerItem;
        var outputsPerItem = _signature.Model.OutputsPerItem;
        var input = ArrayPool<float>.Shared.Rent(itemCount * inputsPerItem);
        var output = BatchOutputBinding.Create(slices, itemCount, outputsPerItem, scratch.OutputShape);
        try
        {
            var row = 0;
            foreach (var slice in slices)
            {
                foreach (var item in slice.Inputs.Span)
                {
                    item.Pixels.Span.CopyTo(input.AsSpan(row * inputsPerItem, inputsPerItem));
                    row++;
                }
            }

            scratch.InputShape[0] = itemCount;
            scratch.InputValues[0] = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, input.AsMemory(0, itemCount * inputsPerItem), scratch.InputShape);
            scratch.OutputValues[0] = output.Value;
            _session.Run(scratch.RunOptions, _inputNames, scratch.InputValues, _outputNames, scratch.OutputValues);
            output.Scatter(slices, outputsPerItem);
        }
        finally
        {
            scratch.InputValues[0]?.Dispose();
            scratch.InputValues[0] = null!;
            scratch.OutputValues[0] = null!;
            output.Dispose();
            ArrayPool<float>.Shared.Return(input);
        }
    }

    /// <summary>What one run owns while it runs: its options (for <c>Terminate</c>), shapes and value slots.</summary>
    private sealed class RunScratch(TranslationSignature signature) : IDisposable
    {
        public RunOptions RunOptions { get; } = new();

        public OrtValue[] InputValues { get; } = new OrtValue[1];

        public OrtValue[] OutputValues { get; } = new OrtValue[1];

        /// <summary>Axis 0 is set to the batch size before the run.</summary>
        public long[] InputShape { get; } = [0, signature.InputChannels, signature.InputHeight, signature.InputWidth];

        public long[] OutputShape { get; } = [0, signature.Model.Channels, signature.Model.Height, signature.Model.Width];

        public void Dispose() => RunOptions.Dispose();
    }
}

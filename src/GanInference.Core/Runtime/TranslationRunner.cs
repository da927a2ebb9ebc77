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
/// <remarks>Not thread-safe: the batcher calls it from its single loop, one batch at a time.</remarks>
internal sealed class TranslationRunner : IBatchExecutor<TranslationItem, float>, IDisposable
{
    private readonly InferenceSession _session;
    private readonly TranslationSignature _signature;
    private readonly RunOptions _runOptions = new();
    private readonly string[] _inputNames;
    private readonly string[] _outputNames;
    private readonly OrtValue[] _inputValues = new OrtValue[1];
    private readonly OrtValue[] _outputValues = new OrtValue[1];
    private readonly long[] _inputShape;
    private readonly long[] _outputShape;

    public TranslationRunner(InferenceSession session, TranslationSignature signature)
    {
        _session = session;
        _signature = signature;
        _inputNames = [signature.InputName];
        _outputNames = [signature.Model.OutputName];
        _inputShape = [0, signature.InputChannels, signature.InputHeight, signature.InputWidth];
        _outputShape = [0, signature.Model.Channels, signature.Model.Height, signature.Model.Width];
    }

    /// <inheritdoc />
    public ValueTask ExecuteAsync(ReadOnlyMemory<BatchSlice<TranslationItem, float>> slices, int itemCount, CancellationToken cancellationToken)
    {
        TerminableRun.Execute(_runOptions, cancellationToken, (Runner: this, Slices: slices, Count: itemCount), static s => s.Runner.Run(s.Slices.Span, s.Count));
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
        Run(slices, 1);
    }

    /// <summary>The item of the warm-up and of the batch size profile: one mid-grey image.</summary>
    public TranslationItem SampleItem()
    {
        var input = new float[_signature.InputsPerItem];
        Array.Fill(input, (_signature.InputMin + _signature.InputMax) / 2);
        return new TranslationItem(input);
    }

    public void Dispose() => _runOptions.Dispose();

    private void Run(ReadOnlySpan<BatchSlice<TranslationItem, float>> slices, int itemCount)
    {
        var inputsPerItem = _signature.InputsPerItem;
        var outputsPerItem = _signature.Model.OutputsPerItem;
        var input = ArrayPool<float>.Shared.Rent(itemCount * inputsPerItem);
        var output = BatchOutputBinding.Create(slices, itemCount, outputsPerItem, _outputShape);
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

            _inputShape[0] = itemCount;
            _inputValues[0] = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, input.AsMemory(0, itemCount * inputsPerItem), _inputShape);
            _outputValues[0] = output.Value;
            _session.Run(_runOptions, _inputNames, _inputValues, _outputNames, _outputValues);
            output.Scatter(slices, outputsPerItem);
        }
        finally
        {
            _inputValues[0]?.Dispose();
            _inputValues[0] = null!;
            _outputValues[0] = null!;
            output.Dispose();
            ArrayPool<float>.Shared.Return(input);
        }
    }
}

using System.Buffers;
using GanInference.Core.Batching;
using GanInference.Core.Generation;
using GanInference.Core.Models;
using GanInference.Core.Sampling;
using Microsoft.ML.OnnxRuntime;

namespace GanInference.Core.Runtime;

/// <summary>
/// Runs batches of <see cref="GenerationItem"/>s through a generator's session. Inputs are built in
/// pooled arrays and handed to ONNX Runtime as <see cref="OrtValue"/>s over that memory (no copies);
/// the output is bound the same way, directly over the request's buffer when the batch is one slice.
/// </summary>
/// <remarks>Not thread-safe: the batcher calls it from its single loop, one batch at a time.</remarks>
internal sealed class GeneratorRunner : IBatchExecutor<GenerationItem, float>, IDisposable
{
    private readonly InferenceSession _session;
    private readonly ModelSignature _signature;
    private readonly RunOptions _runOptions = new();
    private readonly string[] _inputNames;
    private readonly InputSlot[] _slots;
    private readonly OrtValue[] _inputValues;
    private readonly string[] _outputNames;
    private readonly OrtValue[] _outputValues = new OrtValue[1];
    private readonly long[] _outputShape;
    private readonly int _latentSlot;

    // Reused across batches (one batch at a time): which pooled array backs each float input slot.
    private readonly float[][] _floatBuffers;

    public GeneratorRunner(InferenceSession session, ModelSignature signature)
    {
        _session = session;
        _signature = signature;
        var inputs = signature.Inputs;
        _inputNames = inputs.Select(i => i.Name!).ToArray();
        _slots = inputs.Select(i => i.Name == signature.LatentInput
                ? new InputSlot(SlotKind.Latent, signature.LatentDim)
                : i.Name == signature.LabelInput
                    ? new InputSlot(SlotKind.Label, 1)
                    : new InputSlot(SlotKind.Noise, (int)i.Shape![1]))
            .ToArray();
        _latentSlot = Array.FindIndex(_slots, s => s.Kind == SlotKind.Latent);
        _inputValues = new OrtValue[_inputNames.Length];
        _floatBuffers = new float[_slots.Length][];
        _outputNames = [signature.OutputName];
        _outputShape = [0, signature.Channels, signature.Height, signature.Width];
    }

    private enum SlotKind
    {
        Latent,
        Label,
        Noise,
    }

    /// <inheritdoc />
    public ValueTask ExecuteAsync(ReadOnlyMemory<BatchSlice<GenerationItem, float>> slices, int itemCount, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        Run(slices.Span, itemCount);
        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// One real batch of one (seed 0) through the pooled, pre-bound path, before the model is announced:
    /// besides warming ONNX Runtime up it proves the graph really produces the declared output shape,
    /// which a run with runtime-allocated outputs would not.
    /// </summary>
    public void WarmUp()
    {
        var output = new float[_signature.OutputsPerItem];
        var label = _signature.LabelInput is null ? GenerationItem.NoLabel : 0;
        BatchSlice<GenerationItem, float>[] slices = [new(new[] { GenerationItem.FromSeed(0, 0, label) }, output, _signature.OutputsPerItem)];
        Run(slices, 1);
    }

    public void Dispose() => _runOptions.Dispose();

    private void Run(ReadOnlySpan<BatchSlice<GenerationItem, float>> slices, int itemCount)
    {
        var floatBuffers = _floatBuffers;
        long[]? labels = null;
        var outputsPerItem = _signature.OutputsPerItem;

        // One slice: ONNX Runtime writes straight into the request's buffer. Several: into a pooled batch buffer, then copied out.
        var directOutput = slices.Length == 1;
        var batchOutput = directOutput ? null : ArrayPool<float>.Shared.Rent(itemCount * outputsPerItem);
        try
        {
            for (var s = 0; s < _slots.Length; s++)
            {
                if (_slots[s].Kind == SlotKind.Label)
                {
                    labels = ArrayPool<long>.Shared.Rent(itemCount);
                }
                else
                {
                    floatBuffers[s] = ArrayPool<float>.Shared.Rent(itemCount * _slots[s].Width);
                }
            }

            FillInputs(slices, floatBuffers, labels);
            for (var s = 0; s < _slots.Length; s++)
            {
                _inputValues[s] = _slots[s].Kind == SlotKind.Label
                    ? OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, labels.AsMemory(0, itemCount), [itemCount])
                    : OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, floatBuffers[s].AsMemory(0, itemCount * _slots[s].Width), [itemCount, _slots[s].Width]);
            }

            _outputShape[0] = itemCount;
            var outputMemory = directOutput ? slices[0].Outputs[..(itemCount * outputsPerItem)] : batchOutput.AsMemory(0, itemCount * outputsPerItem);
            _outputValues[0] = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, outputMemory, _outputShape);
            _session.Run(_runOptions, _inputNames, _inputValues, _outputNames, _outputValues);

            if (!directOutput)
            {
                BatchOutputs.Scatter(batchOutput.AsSpan(0, itemCount * outputsPerItem), slices, outputsPerItem);
            }
        }
        finally
        {
            for (var s = 0; s < _inputValues.Length; s++)
            {
                _inputValues[s]?.Dispose();
                _inputValues[s] = null!;
            }

            _outputValues[0]?.Dispose();
            _outputValues[0] = null!;
            for (var s = 0; s < floatBuffers.Length; s++)
            {
                if (floatBuffers[s] is { } buffer)
                {
                    ArrayPool<float>.Shared.Return(buffer);
                    floatBuffers[s] = null!;
                }
            }

            if (labels is not null)
            {
                ArrayPool<long>.Shared.Return(labels);
            }

            if (batchOutput is not null)
            {
                ArrayPool<float>.Shared.Return(batchOutput);
            }
        }
    }

    private void FillInputs(ReadOnlySpan<BatchSlice<GenerationItem, float>> slices, float[][] floatBuffers, long[]? labels)
    {
        var latentSlot = _latentSlot;
        var latentDim = _signature.LatentDim;
        var row = 0;
        foreach (var slice in slices)
        {
            foreach (var item in slice.Inputs.Span)
            {
                if (labels is not null)
                {
                    labels[row] = item.Label;
                }

                var latentRow = floatBuffers[latentSlot].AsSpan(row * latentDim, latentDim);
                if (item.HasSeed)
                {
                    // The latent is the start of the seed's stream; noise inputs continue it in manifest order.
                    var stream = new LatentSampler.NormalSequence(item.Seed, item.Truncation);
                    stream.Fill(latentRow);
                    for (var s = 0; s < _slots.Length; s++)
                    {
                        if (_slots[s].Kind == SlotKind.Noise)
                        {
                            stream.Fill(floatBuffers[s].AsSpan(row * _slots[s].Width, _slots[s].Width));
                        }
                    }
                }
                else
                {
                    // Explicit latents are refused for models with noise inputs (GenerationPlan), so only the latent is set.
                    item.Latent.Span.CopyTo(latentRow);
                }

                row++;
            }
        }
    }

    private readonly record struct InputSlot(SlotKind Kind, int Width);
}

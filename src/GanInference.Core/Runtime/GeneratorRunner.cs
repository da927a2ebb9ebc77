using System.Buffers;
using GanInference.Core.Batching;
using GanInference.Core.Manifests;
using GanInference.Core.Models;
using GanInference.Core.Sampling;
using Microsoft.ML.OnnxRuntime;

namespace GanInference.Core.Runtime;

/// <summary>
/// Runs batches of <see cref="GenerationItem"/>s through a seed-driven model's session: unconditional,
/// class-conditional and text-conditional generators, and the text-conditional steps of a pipeline. Inputs are
/// built in pooled arrays and handed to ONNX Runtime as <see cref="OrtValue"/>s over that memory (no copies);
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

    // Reused across batches (one batch at a time): which pooled array backs each input slot.
    private readonly float[][] _floatBuffers;
    private readonly long[][] _longBuffers;

    public GeneratorRunner(InferenceSession session, ModelSignature signature)
    {
        _session = session;
        _signature = signature;
        var inputs = signature.Inputs;
        _inputNames = inputs.Select(i => i.Name!).ToArray();
        _slots = inputs.Select(i => SlotFor(i, signature)).ToArray();
        _latentSlot = Array.FindIndex(_slots, s => s.Kind == SlotKind.Latent);
        _inputValues = new OrtValue[_inputNames.Length];
        _floatBuffers = new float[_slots.Length][];
        _longBuffers = new long[_slots.Length][];
        _outputNames = [signature.OutputName];
        _outputShape = [0, signature.Channels, signature.Height, signature.Width];
    }

    private enum SlotKind
    {
        Latent,
        Label,
        Noise,
        Tokens,
        Embedding,
        Image,
    }

    /// <inheritdoc />
    public ValueTask ExecuteAsync(ReadOnlyMemory<BatchSlice<GenerationItem, float>> slices, int itemCount, CancellationToken cancellationToken)
    {
        TerminableRun.Execute(_runOptions, cancellationToken, (Runner: this, Slices: slices, Count: itemCount), static s => s.Runner.Run(s.Slices.Span, s.Count));
        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// One real batch of one (seed 0; label 0, all-padding tokens, zero embedding and image) through the pooled,
    /// pre-bound path, before the model is announced: besides warming ONNX Runtime up it proves the graph really
    /// produces the declared output shape, which a run with runtime-allocated outputs would not.
    /// </summary>
    public void WarmUp()
    {
        var output = new float[_signature.OutputsPerItem];
        BatchSlice<GenerationItem, float>[] slices = [new(new[] { SampleItem() }, output, _signature.OutputsPerItem)];
        Run(slices, 1);
    }

    /// <summary>The item of the warm-up and of the batch size profile: seed 0; label 0, all-padding tokens, zero embedding and image.</summary>
    public GenerationItem SampleItem() => GenerationItem.FromSeed(0, 0, _signature.LabelInput is null ? GenerationItem.NoLabel : 0);

    public void Dispose() => _runOptions.Dispose();

    private static InputSlot SlotFor(TensorManifest input, ModelSignature signature)
    {
        var (kind, isInt64) = input.Name == signature.LatentInput ? (SlotKind.Latent, false)
            : input.Name == signature.LabelInput ? (SlotKind.Label, true)
            : input.Name == signature.TokensInput ? (SlotKind.Tokens, true)
            : input.Name == signature.EmbeddingInput ? (SlotKind.Embedding, false)
            : input.Name == signature.ImageInput?.Name ? (SlotKind.Image, false)
            : (SlotKind.Noise, false);

        // The batch axis is set per run; the others come from the checked manifest.
        var shape = input.Shape!.ToArray();
        var width = 1;
        for (var d = 1; d < shape.Length; d++)
        {
            width *= (int)shape[d];
        }

        return new InputSlot(kind, width, shape, isInt64);
    }

    private void Run(ReadOnlySpan<BatchSlice<GenerationItem, float>> slices, int itemCount)
    {
        var outputsPerItem = _signature.OutputsPerItem;
        var output = BatchOutputBinding.Create(slices, itemCount, outputsPerItem, _outputShape);
        try
        {
            for (var s = 0; s < _slots.Length; s++)
            {
                if (_slots[s].IsInt64)
                {
                    _longBuffers[s] = ArrayPool<long>.Shared.Rent(itemCount * _slots[s].Width);
                }
                else
                {
                    _floatBuffers[s] = ArrayPool<float>.Shared.Rent(itemCount * _slots[s].Width);
                }
            }

            FillInputs(slices);
            for (var s = 0; s < _slots.Length; s++)
            {
                var slot = _slots[s];
                slot.Shape[0] = itemCount;
                _inputValues[s] = slot.IsInt64
                    ? OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, _longBuffers[s].AsMemory(0, itemCount * slot.Width), slot.Shape)
                    : OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, _floatBuffers[s].AsMemory(0, itemCount * slot.Width), slot.Shape);
            }

            _outputValues[0] = output.Value;
            _session.Run(_runOptions, _inputNames, _inputValues, _outputNames, _outputValues);
            output.Scatter(slices, outputsPerItem);
        }
        finally
        {
            for (var s = 0; s < _inputValues.Length; s++)
            {
                _inputValues[s]?.Dispose();
                _inputValues[s] = null!;
            }

            _outputValues[0] = null!;
            output.Dispose();
            for (var s = 0; s < _slots.Length; s++)
            {
                if (_floatBuffers[s] is { } floats)
                {
                    ArrayPool<float>.Shared.Return(floats);
                    _floatBuffers[s] = null!;
                }

                if (_longBuffers[s] is { } longs)
                {
                    ArrayPool<long>.Shared.Return(longs);
                    _longBuffers[s] = null!;
                }
            }

        }
    }

    private void FillInputs(ReadOnlySpan<BatchSlice<GenerationItem, float>> slices)
    {
        var row = 0;
        foreach (var slice in slices)
        {
            foreach (var item in slice.Inputs.Span)
            {
                for (var s = 0; s < _slots.Length; s++)
                {
                    var width = _slots[s].Width;
                    switch (_slots[s].Kind)
                    {
                        case SlotKind.Label:
                            _longBuffers[s][row] = item.Label;
                            break;
                        case SlotKind.Tokens:
                            CopyOrClear(item.Tokens.Span, _longBuffers[s].AsSpan(row * width, width));
                            break;
                        case SlotKind.Embedding:
                            CopyOrClear(item.Embedding.Span, _floatBuffers[s].AsSpan(row * width, width));
                            break;
                        case SlotKind.Image:
                            CopyOrClear(item.Image.Span, _floatBuffers[s].AsSpan(row * width, width));
                            break;
                    }
                }

                if (item.HasSeed)
                {
                    // The latent is the start of the seed's stream (after what earlier pipeline steps drew); noise
                    // inputs continue it in manifest order.
                    var stream = new LatentSampler.NormalSequence(item.Seed, item.Truncation);
                    stream.Skip(item.StreamOffset);
                    if (_latentSlot >= 0)
                    {
                        stream.Fill(_floatBuffers[_latentSlot].AsSpan(row * _slots[_latentSlot].Width, _slots[_latentSlot].Width));
                    }

                    for (var s = 0; s < _slots.Length; s++)
                    {
                        if (_slots[s].Kind == SlotKind.Noise)
                        {
                            stream.Fill(_floatBuffers[s].AsSpan(row * _slots[s].Width, _slots[s].Width));
                        }
                    }
                }
                else
                {
                    // Explicit latents are refused for models with noise inputs (GenerationPlan), so only the latent is set.
                    item.Latent.Span.CopyTo(_floatBuffers[_latentSlot].AsSpan(row * _slots[_latentSlot].Width, _slots[_latentSlot].Width));
                }

                row++;
            }
        }
    }

    /// <summary>Copies one item's row, or zeros it when the item gives none (the pooled array holds old values).</summary>
    private static void CopyOrClear<T>(ReadOnlySpan<T> source, Span<T> row)
    {
        if (source.IsEmpty)
        {
            row.Clear();
        }
        else if (source.Length != row.Length)
        {
            throw new ArgumentException($"an input row holds {source.Length} values, the model takes {row.Length}");
        }
        else
        {
            source.CopyTo(row);
        }
    }

    /// <param name="Kind">What feeds it.</param>
    /// <param name="Width">Values per item (1 for a label).</param>
    /// <param name="Shape">The tensor shape; axis 0 is set to the batch size before each run.</param>
    /// <param name="IsInt64">int64 (labels, token ids) or float32.</param>
    private readonly record struct InputSlot(SlotKind Kind, int Width, long[] Shape, bool IsInt64);
}

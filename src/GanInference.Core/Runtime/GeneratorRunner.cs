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
/// <remarks>
/// Safe for overlapping runs (the batcher's runs in flight): each run takes its own <see cref="RunScratch"/> (run
/// options, shapes, buffer slots) from a pool; the session, the signature and the slot layout are shared, read-only.
/// </remarks>
internal sealed class GeneratorRunner : IBatchExecutor<GenerationItem, float>, IDisposable
{
    private readonly InferenceSession _session;
    private readonly ModelSignature _signature;
    private readonly string[] _inputNames;
    private readonly InputSlot[] _slots;
    private readonly string[] _outputNames;
    private readonly int _latentSlot;
    private readonly RunScratchPool<RunScratch> _scratch;

    public GeneratorRunner(InferenceSession session, ModelSignature signature)
    {
        _session = session;
        _signature = signature;
        var inputs = signature.Inputs;
        _inputNames = inputs.Select(i => i.Name!).ToArray();
        _slots = inputs.Select(i => SlotFor(i, signature)).ToArray();
        _latentSlot = Array.FindIndex(_slots, s => s.Kind == SlotKind.Latent);
        _outputNames = [signature.OutputName];
        _scratch = new RunScratchPool<RunScratch>(() => new RunScratch(_slots, signature));
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
    /// One real batch of one (seed 0; label 0, all-padding tokens, zero embedding and image) through the pooled,
    /// pre-bound path, before the model is announced: besides warming ONNX Runtime up it proves the graph really
    /// produces the declared output shape, which a run with runtime-allocated outputs would not.
    /// </summary>
    public void WarmUp()
    {
        var output = new float[_signature.OutputsPerItem];
        BatchSlice<GenerationItem, float>[] slices = [new(new[] { SampleItem() }, output, _signature.OutputsPerItem)];
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

    /// <summary>The item of the warm-up and of the batch size profile: seed 0; label 0, all-padding tokens, zero embedding and image.</summary>
    public GenerationItem SampleItem() => GenerationItem.FromSeed(0, 0, _signature.LabelInput is null ? GenerationItem.NoLabel : 0);

    public void Dispose() => _scratch.Dispose();

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

    private void Run(RunScratch scratch, ReadOnlySpan<BatchSlice<GenerationItem, float>> slices, int itemCount)
    {
        var outputsPerItem = _signature.OutputsPerItem;
        var floatBuffers = scratch.FloatBuffers;
        var longBuffers = scratch.LongBuffers;
        var inputValues = scratch.InputValues;
        var output = BatchOutputBinding.Create(slices, itemCount, outputsPerItem, scratch.OutputShape);
        try
        {
            for (var s = 0; s < _slots.Length; s++)
            {
                if (_slots[s].IsInt64)
                {
                    longBuffers[s] = ArrayPool<long>.Shared.Rent(itemCount * _slots[s].Width);
                }
                else
                {
                    floatBuffers[s] = ArrayPool<float>.Shared.Rent(itemCount * _slots[s].Width);
                }
            }

            FillInputs(scratch, slices);
            for (var s = 0; s < _slots.Length; s++)
            {
                var slot = _slots[s];
                var shape = scratch.Shapes[s];
                shape[0] = itemCount;
                inputValues[s] = slot.IsInt64
                    ? OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, longBuffers[s].AsMemory(0, itemCount * slot.Width), shape)
                    : OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, floatBuffers[s].AsMemory(0, itemCount * slot.Width), shape);
            }

            scratch.OutputValues[0] = output.Value;
            _session.Run(scratch.RunOptions, _inputNames, inputValues, _outputNames, scratch.OutputValues);
            output.Scatter(slices, outputsPerItem);
        }
        finally
        {
            for (var s = 0; s < inputValues.Length; s++)
            {
                inputValues[s]?.Dispose();
                inputValues[s] = null!;
            }

            scratch.OutputValues[0] = null!;
            output.Dispose();
            for (var s = 0; s < _slots.Length; s++)
            {
                if (floatBuffers[s] is { } floats)
                {
                    ArrayPool<float>.Shared.Return(floats);
                    floatBuffers[s] = null!;
                }

                if (longBuffers[s] is { } longs)
                {
                    ArrayPool<long>.Shared.Return(longs);
                    longBuffers[s] = null!;
                }
            }

        }
    }

    private void FillInputs(RunScratch scratch, ReadOnlySpan<BatchSlice<GenerationItem, float>> slices)
    {
        var floatBuffers = scratch.FloatBuffers;
        var longBuffers = scratch.LongBuffers;
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
                            longBuffers[s][row] = item.Label;
                            break;
                        case SlotKind.Tokens:
                            CopyOrClear(item.Tokens.Span, longBuffers[s].AsSpan(row * width, width));
                            break;
                        case SlotKind.Embedding:
                            CopyOrClear(item.Embedding.Span, floatBuffers[s].AsSpan(row * width, width));
                            break;
                        case SlotKind.Image:
                            CopyOrClear(item.Image.Span, floatBuffers[s].AsSpan(row * width, width));
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
                        stream.Fill(floatBuffers[_latentSlot].AsSpan(row * _slots[_latentSlot].Width, _slots[_latentSlot].Width));
                    }

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
                    item.Latent.Span.CopyTo(floatBuffers[_latentSlot].AsSpan(row * _slots[_latentSlot].Width, _slots[_latentSlot].Width));
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

    /// <summary>What one run owns while it runs: its options (for <c>Terminate</c>), shapes and input buffer slots.</summary>
    private sealed class RunScratch : IDisposable
    {
        public RunScratch(InputSlot[] slots, ModelSignature signature)
        {
            InputValues = new OrtValue[slots.Length];
            FloatBuffers = new float[slots.Length][];
            LongBuffers = new long[slots.Length][];
            Shapes = slots.Select(slot => slot.Shape.ToArray()).ToArray();
            OutputShape = [0, signature.Channels, signature.Height, signature.Width];
        }

        public RunOptions RunOptions { get; } = new();

        public OrtValue[] InputValues { get; }

        public OrtValue[] OutputValues { get; } = new OrtValue[1];

        /// <summary>Which pooled array backs each input slot during the run.</summary>
        public float[][] FloatBuffers { get; }

        public long[][] LongBuffers { get; }

        /// <summary>Each input's shape; axis 0 is set to the batch size before the run.</summary>
        public long[][] Shapes { get; }

        public long[] OutputShape { get; }

        public void Dispose() => RunOptions.Dispose();
    }
}

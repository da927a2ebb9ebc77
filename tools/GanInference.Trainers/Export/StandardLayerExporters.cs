using TorchSharp;
using TorchSharp.Modules;
using static GanInference.Onnx.OnnxAttribute;
using static TorchSharp.torch;

namespace GanInference.Trainers.Export;

/// <summary>
/// ONNX mappings of the TorchSharp layers we use (eval-mode semantics): Linear → MatMul + Add, Conv2d →
/// Conv (reflection padding as Pad), ConvTranspose2d → ConvTranspose, BatchNorm2d →
/// BatchNormalization with running statistics, InstanceNorm2d → InstanceNormalization,
/// ReflectionPad2d → Pad(reflect), activations one-to-one, Dropout → Identity, Flatten,
/// MaxPool2d, nearest Upsample → Resize, Embedding → Gather (negative indices refused), Sequential → its children in order.
/// </summary>
internal static class StandardLayerExporters
{
    public static void RegisterAll(ModuleExporterRegistry registry) => registry
        .Register<Sequential>(ExportSequential)
        .Register<Linear>(ExportLinear)
        .Register<Conv2d>(ExportConv2d)
        .Register<ConvTranspose2d>(ExportConvTranspose2d)
        .Register<BatchNorm2d>(ExportBatchNorm2d)
        .Register<InstanceNorm2d>(ExportInstanceNorm2d)
        .Register<ReflectionPad2d>(ExportReflectionPad2d)
        .Register<ReLU>((_, context, input) => context.Graph.Node("Relu", [input]))
        .Register<LeakyReLU>((layer, context, input) => context.Graph.Node("LeakyRelu", [input], Float("alpha", (float)layer.negative_slope)))
        .Register<Tanh>((_, context, input) => context.Graph.Node("Tanh", [input]))
        .Register<Sigmoid>((_, context, input) => context.Graph.Node("Sigmoid", [input]))
        .Register<Dropout>((_, context, input) => context.Graph.Node("Identity", [input])) // eval mode: dropout is the identity
        .Register<Flatten>(ExportFlatten)
        .Register<MaxPool2d>(ExportMaxPool2d)
        .Register<Upsample>(ExportUpsample)
        .Register<Embedding>(ExportEmbedding);

    private static string ExportSequential(Sequential sequential, OnnxExportContext context, string input)
    {
        var value = input;
        foreach (var (name, child) in sequential.named_children())
        {
            value = context.Export(child, name, value);
        }

        return value;
    }

    /// <summary>
    /// y = x·Wᵀ + b over the last axis, for input of any rank (as TorchSharp's Linear): MatMul with the transposed
    /// weight, then Add. ONNX Gemm would accept only 2-D input; ONNX Runtime fuses MatMul + Add into Gemm where the
    /// input is 2-D.
    /// </summary>
    private static string ExportLinear(Linear layer, OnnxExportContext context, string input)
    {
        using var transposed = layer.weight!.detach().t();
        var product = context.Graph.Node("MatMul", [input, context.Weight("weight_t", transposed)]);
        return layer.bias is null ? product : context.Graph.Node("Add", [product, context.Weight("bias", layer.bias)]);
    }

    /// <summary>
    /// Gather of the weight rows. ONNX Gather accepts indices in [−n, n − 1] and wraps negative ones, where
    /// TorchSharp's Embedding refuses them; so negative indices are first replaced by n, which makes ONNX Runtime
    /// fail the run ("indices element out of data bounds") instead of silently reading row n − k.
    /// </summary>
    private static string ExportEmbedding(Embedding layer, OnnxExportContext context, string input)
    {
        var graph = context.Graph;
        var rows = layer.weight!.shape[0];
        var negative = graph.Node("Less", [input, context.Constant("zero", 0)]);
        var guarded = graph.Node("Where", [negative, context.Constant("rows", rows), input]);
        return graph.Node("Gather", [context.Weight("weight", layer.weight!), guarded], Int("axis", 0));
    }

    private static string ExportConv2d(Conv2d layer, OnnxExportContext context, string input)
    {
        var pads = ConvolutionPads(layer, context);
        var source = input;
        if (layer.padding_mode == PaddingModes.Reflect && pads.Any(p => p != 0))
        {
            // ONNX Conv pads with zeros only: reflect explicitly, then convolve without padding.
            source = Pad(context, input, "reflect", top: pads[0], left: pads[1], bottom: pads[2], right: pads[3]);
            pads = [0, 0, 0, 0];
        }
        else if (layer.padding_mode is not (PaddingModes.Zeros or PaddingModes.Reflect))
        {
            throw new UnsupportedLayerException(layer.GetType(), context.CurrentPath, $"padding mode {layer.padding_mode} is not supported");
        }

        var weight = context.Weight("weight", layer.weight!);
        string[] inputs = layer.bias is null ? [source, weight] : [source, weight, context.Weight("bias", layer.bias)];
        return context.Graph.Node(
            "Conv",
            inputs,
            Ints("kernel_shape", Pair(layer.kernel_size)),
            Ints("strides", Pair(layer.stride)),
            Ints("dilations", Pair(layer.dilation)),
            Ints("pads", pads),
            Int("group", layer.groups));
    }

    /// <summary>ONNX pads [top, left, bottom, right] of a convolution, resolving 'same' / 'valid'.</summary>
    private static long[] ConvolutionPads(Convolution layer, OnnxExportContext context)
    {
        if (layer.padding_type is Padding.Valid)
        {
            return [0, 0, 0, 0];
        }

        if (layer.padding_type is Padding.Same)
        {
            if (layer.stride.Any(s => s != 1))
            {
                throw new UnsupportedLayerException(layer.GetType(), context.CurrentPath, "'same' padding with stride > 1");
            }

            // As PyTorch: the odd pixel of padding goes after (bottom/right).
            var totalH = layer.dilation[0] * (layer.kernel_size[0] - 1);
            var totalW = layer.dilation[1] * (layer.kernel_size[1] - 1);
            return [totalH / 2, totalW / 2, totalH - (totalH / 2), totalW - (totalW / 2)];
        }

        var padding = Pair(layer.padding ?? [0L]);
        return [padding[0], padding[1], padding[0], padding[1]];
    }

    private static string ExportConvTranspose2d(ConvTranspose2d layer, OnnxExportContext context, string input)
    {
        if (layer.padding_mode != PaddingModes.Zeros)
        {
            throw new UnsupportedLayerException(layer.GetType(), context.CurrentPath, $"padding mode {layer.padding_mode} is not supported");
        }

        var padding = Pair(layer.padding ?? [0L]);
        var weight = context.Weight("weight", layer.weight!);
        string[] inputs = layer.bias is null ? [input, weight] : [input, weight, context.Weight("bias", layer.bias)];
        return context.Graph.Node(
            "ConvTranspose",
            inputs,
            Ints("kernel_shape", Pair(layer.kernel_size)),
            Ints("strides", Pair(layer.stride)),
            Ints("dilations", Pair(layer.dilation)),
            Ints("pads", padding[0], padding[1], padding[0], padding[1]),
            Ints("output_padding", Pair(layer.output_padding ?? [0L])),
            Int("group", layer.groups));
    }

    private static string ExportBatchNorm2d(BatchNorm2d layer, OnnxExportContext context, string input)
    {
        if (layer.training)
        {
            // A module in training mode normalises with each batch's statistics; the exported node uses the running ones.
            throw new UnsupportedLayerException(layer.GetType(), context.CurrentPath, "the module is in training mode; call eval() on the network before exporting (the ONNX node uses the running statistics)");
        }

        if (layer.running_mean is null || layer.running_var is null)
        {
            throw new UnsupportedLayerException(layer.GetType(), context.CurrentPath, "eval-mode export needs running statistics (track_running_stats)");
        }

        var (scale, bias) = AffineOrIdentity(layer.weight, layer.bias, layer.num_features, context);
        return context.Graph.Node(
            "BatchNormalization",
            [input, scale, bias, context.Weight("running_mean", layer.running_mean), context.Weight("running_var", layer.running_var)],
            Float("epsilon", (float)layer.eps));
    }

    private static string ExportInstanceNorm2d(InstanceNorm2d layer, OnnxExportContext context, string input)
    {
        if (layer.track_running_stats)
        {
            throw new UnsupportedLayerException(layer.GetType(), context.CurrentPath, "InstanceNorm with track_running_stats has no ONNX equivalent");
        }

        var (scale, bias) = AffineOrIdentity(layer.weight, layer.bias, layer.num_features, context);
        return context.Graph.Node("InstanceNormalization", [input, scale, bias], Float("epsilon", (float)layer.eps));
    }

    private static (string Scale, string Bias) AffineOrIdentity(Tensor? weight, Tensor? bias, long features, OnnxExportContext context)
    {
        if (weight is not null && bias is not null)
        {
            return (context.Weight("weight", weight), context.Weight("bias", bias));
        }

        using var ones = torch.ones(features);
        using var zeros = torch.zeros(features);
        return (context.Weight("weight", ones), context.Weight("bias", zeros));
    }

    private static string ExportReflectionPad2d(ReflectionPad2d layer, OnnxExportContext context, string input)
    {
        // TorchSharp order: left, right, top, bottom.
        var p = layer.padding;
        return Pad(context, input, "reflect", top: p[2], left: p[0], bottom: p[3], right: p[1]);
    }

    private static string Pad(OnnxExportContext context, string input, string mode, long top, long left, long bottom, long right)
    {
        var pads = context.Constant("pads", 0, 0, top, left, 0, 0, bottom, right);
        return context.Graph.Node("Pad", [input, pads], String("mode", mode));
    }

    private static string ExportFlatten(Flatten layer, OnnxExportContext context, string input)
    {
        if (layer.start_dim != 1 || layer.end_dim != -1)
        {
            throw new UnsupportedLayerException(layer.GetType(), context.CurrentPath, $"only Flatten(1, -1) is supported, got ({layer.start_dim}, {layer.end_dim})");
        }

        return context.Graph.Node("Flatten", [input], Int("axis", 1));
    }

    private static string ExportMaxPool2d(MaxPool2d layer, OnnxExportContext context, string input)
    {
        var kernel = Pair(layer.kernel_size);
        var stride = layer.stride is null || layer.stride.Length == 0 ? kernel : Pair(layer.stride);
        var padding = layer.padding is null || layer.padding.Length == 0 ? [0L, 0L] : Pair(layer.padding);
        var dilation = layer.dilation is null || layer.dilation.Length == 0 ? [1L, 1L] : Pair(layer.dilation);
        return context.Graph.Node(
            "MaxPool",
            [input],
            Ints("kernel_shape", kernel),
            Ints("strides", stride),
            Ints("pads", padding[0], padding[1], padding[0], padding[1]),
            Ints("dilations", dilation),
            Int("ceil_mode", layer.ceil_mode ? 1 : 0));
    }

    private static string ExportUpsample(Upsample layer, OnnxExportContext context, string input)
    {
        if (layer.mode != UpsampleMode.Nearest || layer.scale_factor.Length == 0)
        {
            throw new UnsupportedLayerException(layer.GetType(), context.CurrentPath, "only nearest upsampling by a scale factor is supported");
        }

        var factors = layer.scale_factor.ToArray();
        var scales = new[] { 1f, 1f, (float)factors[0], (float)factors[factors.Length > 1 ? 1 : 0] };
        var scalesName = context.Graph.Initializer(context.Graph.UniqueName($"{context.CurrentPath}.scales"), scales, 4);

        // PyTorch 'nearest' picks floor(dst * in / out), which is ONNX's asymmetric + floor.
        return context.Graph.Node(
            "Resize",
            [input, string.Empty, scalesName],
            String("mode", "nearest"),
            String("coordinate_transformation_mode", "asymmetric"),
            String("nearest_mode", "floor"));
    }

    /// <summary>TorchSharp stores single sizes as one element; ONNX wants one per spatial axis.</summary>
    private static long[] Pair(long[] values) => values.Length == 1 ? [values[0], values[0]] : values;
}

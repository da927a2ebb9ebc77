using GanInference.Onnx;
using static TorchSharp.torch;

namespace GanInference.Trainers.Export;

/// <summary>
/// The state of one export: the graph under construction, the registry of layer exporters, and
/// the module path used to name initializers (<c>body.up7.weight</c>), so the ONNX file reads like
/// the TorchSharp state dict.
/// </summary>
public sealed class OnnxExportContext
{
    private readonly Stack<string> scope = new();

    public OnnxExportContext(OnnxGraphBuilder graph, ModuleExporterRegistry registry)
    {
        Graph = graph;
        Registry = registry;
    }

    public OnnxGraphBuilder Graph { get; }

    public ModuleExporterRegistry Registry { get; }

    /// <summary>Dotted path of the module being exported.</summary>
    public string CurrentPath => scope.Count == 0 ? "model" : string.Join('.', scope.Reverse());

    /// <summary>
    /// Exports <paramref name="module"/> applied to <paramref name="inputs"/>: our own modules
    /// export themselves, library layers go through the registry; anything else is an
    /// <see cref="UnsupportedLayerException"/> naming its type.
    /// </summary>
    public string Export(nn.Module module, string name, params string[] inputs)
    {
        scope.Push(name);
        try
        {
            if (module is IOnnxExportable exportable)
            {
                return exportable.ExportOnnx(this, inputs);
            }

            if (Registry.TryGet(module.GetType(), out var exporter))
            {
                if (inputs.Length != 1)
                {
                    throw new UnsupportedLayerException(module.GetType(), CurrentPath, $"library layers take one input, got {inputs.Length}");
                }

                return exporter(module, this, inputs[0]);
            }

            throw new UnsupportedLayerException(module.GetType(), CurrentPath);
        }
        finally
        {
            scope.Pop();
        }
    }

    /// <summary>Adds a float32 weight tensor as an initializer named after the current module path.</summary>
    public string Weight(string name, Tensor weight)
    {
        using var contiguous = weight.detach().cpu().contiguous().to_type(ScalarType.Float32);
        var values = contiguous.data<float>().ToArray();
        return Graph.Initializer(Graph.UniqueName($"{CurrentPath}.{name}"), values, contiguous.shape);
    }

    /// <summary>Adds an int64 constant (shapes, axes) named after the current module path.</summary>
    public string Constant(string name, params long[] values) =>
        Graph.Initializer(Graph.UniqueName($"{CurrentPath}.{name}"), values, values.Length);
}

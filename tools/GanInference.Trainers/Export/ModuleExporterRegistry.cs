using static TorchSharp.torch;

namespace GanInference.Trainers.Export;

/// <summary>Writes one library layer applied to <paramref name="input"/>; returns the output value name.</summary>
public delegate string LayerExporter(nn.Module module, OnnxExportContext context, string input);

/// <summary>
/// Maps TorchSharp layer types (which we cannot make <see cref="IOnnxExportable"/>) to the code
/// that writes their ONNX nodes. New architectures register what they add; exact type match, so a
/// subclass with different behaviour is never exported by accident.
/// </summary>
public sealed class ModuleExporterRegistry
{
    private readonly Dictionary<Type, LayerExporter> exporters = [];

    /// <summary>Every layer the shipped and planned generators use (see <see cref="StandardLayerExporters"/>).</summary>
    public static ModuleExporterRegistry CreateDefault()
    {
        var registry = new ModuleExporterRegistry();
        StandardLayerExporters.RegisterAll(registry);
        return registry;
    }

    public ModuleExporterRegistry Register<TModule>(Func<TModule, OnnxExportContext, string, string> exporter)
        where TModule : nn.Module
    {
        exporters[typeof(TModule)] = (module, context, input) => exporter((TModule)module, context, input);
        return this;
    }

    public bool TryGet(Type moduleType, out LayerExporter exporter) => exporters.TryGetValue(moduleType, out exporter!);

    public IReadOnlyCollection<Type> SupportedTypes => exporters.Keys;
}

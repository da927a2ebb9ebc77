namespace GanInference.Trainers.Export;

/// <summary>A module type the ONNX exporter has no mapping for (or a setting of it that it cannot map).</summary>
public sealed class UnsupportedLayerException : Exception
{
    public UnsupportedLayerException(Type layerType, string path, string? detail = null)
        : base($"Cannot export layer '{path}' of type {layerType.FullName} to ONNX: {detail ?? "no exporter is registered for this type"}.")
    {
        LayerType = layerType;
        LayerPath = path;
    }

    public Type LayerType { get; }

    /// <summary>Where in the model the layer sits, e.g. <c>body.up7</c>.</summary>
    public string LayerPath { get; }
}

namespace GanInference.Trainers.Export;

/// <summary>
/// A module of ours that writes its own forward pass into an ONNX graph, typically by wiring
/// its child modules through <see cref="OnnxExportContext.Export"/> (a generator describes its
/// forward as a graph of exported modules; skips and multiple inputs are just value names).
/// </summary>
public interface IOnnxExportable
{
    /// <param name="context">The graph being built and the registry for child modules.</param>
    /// <param name="inputs">Value names of the forward's inputs, in forward's parameter order.</param>
    /// <returns>The value name of the forward's output.</returns>
    string ExportOnnx(OnnxExportContext context, IReadOnlyList<string> inputs);
}

namespace GanInference.Core.Errors;

/// <summary>
/// A model folder that cannot be served: a bad manifest, a missing file, or a manifest that disagrees
/// with the ONNX graph. The message names the file and field; the repository logs it and skips the folder.
/// </summary>
public sealed class ModelLoadException(string message, Exception? innerException = null) : Exception(message, innerException);

namespace GanInference.Core.Generation;

/// <summary>Generation pipeline settings, bound from the <c>Generation</c> configuration section.</summary>
public sealed class GenerationOptions
{
    /// <summary>Configuration section name.</summary>
    public const string SectionName = "Generation";

    /// <summary>Images encoded at once per request; 0 means one per processor.</summary>
    public int EncodeParallelism { get; set; }

    /// <summary>Images per chunk a request is cut into; 0 means the model's maxBatchSize.</summary>
    public int ChunkSize { get; set; }
}

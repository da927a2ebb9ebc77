using System.Security.Cryptography;
using GanInference.Core.Errors;
using GanInference.Core.Manifests;

namespace GanInference.Core.Runtime;

/// <summary>
/// The rules that <c>Generate</c> and <c>GenerateFromText</c> share, kept below both request engines and the
/// repository: the answer for a model Generate does not serve, the effective truncation, a random seed.
/// </summary>
internal static class GenerationRules
{
    /// <summary>The FAILED_PRECONDITION answer of Generate for a model it does not serve.</summary>
    internal static ModelKindMismatchException KindMismatch(string model, ModelKind kind) => new(
        $"model '{model}' is {kind.ToManifestName()}; Generate serves unconditional and class-conditional models" +
        (kind == ModelKind.TextConditional ? " (use GenerateFromText)" : string.Empty));

    /// <summary>The request's truncation, or the model's default for none or 0; INVALID_ARGUMENT when out of range.</summary>
    internal static float ResolveTruncation(float? requested, float defaultTruncation)
    {
        var truncation = requested is null or 0 ? defaultTruncation : requested.Value;
        if (!ManifestReader.IsValidTruncation(truncation))
        {
            throw new InvalidFieldException("truncation", $"{truncation} must be 0 or a finite number >= {ManifestReader.MinimumTruncation}");
        }

        return truncation;
    }

    /// <summary>A random 64-bit seed for a request that gives none (reported with every image).</summary>
    internal static ulong RandomSeed()
    {
        Span<byte> bytes = stackalloc byte[sizeof(ulong)];
        RandomNumberGenerator.Fill(bytes);
        return BitConverter.ToUInt64(bytes);
    }
}

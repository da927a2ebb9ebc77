using GanInference.Core.Errors;
using GanInference.Core.Manifests;
using GanInference.Core.Models;

namespace GanInference.Core.Runtime;

/// <summary>
/// What an image-to-image model takes and gives, as <c>Translate</c> needs it: the one image input
/// (name, channels, size, range) and the image output (from <see cref="ModelSignature"/>).
/// </summary>
public sealed class TranslationSignature
{
    private TranslationSignature(TensorManifest input, ModelSignature model)
    {
        InputName = input.Name!;
        InputChannels = (int)input.Shape![1];
        InputHeight = (int)input.Shape[2];
        InputWidth = (int)input.Shape[3];
        InputMin = input.Range![0];
        InputMax = input.Range[1];
        Model = model;
    }

    /// <summary>The full signature.</summary>
    public ModelSignature Model { get; }

    /// <summary>Name of the image input tensor.</summary>
    public string InputName { get; }

    /// <summary>Channels the model takes (1 = grey, 3 = RGB).</summary>
    public int InputChannels { get; }

    /// <summary>Rows the model takes.</summary>
    public int InputHeight { get; }

    /// <summary>Columns the model takes.</summary>
    public int InputWidth { get; }

    /// <summary>Input value that means black.</summary>
    public float InputMin { get; }

    /// <summary>Input value that means white.</summary>
    public float InputMax { get; }

    /// <summary>Floats per input image: C·H·W.</summary>
    public int InputsPerItem => InputChannels * InputHeight * InputWidth;

    /// <summary>
    /// The translation view of an image-to-image model; <see cref="ModelLoadException"/> when it takes inputs
    /// besides its one image (latent or noise), which <c>Translate</c> does not feed.
    /// </summary>
    public static TranslationSignature Create(ModelSignature signature)
    {
        ArgumentNullException.ThrowIfNull(signature);
        if (signature.Kind != ModelKind.ImageToImage)
        {
            throw new ArgumentException($"a {signature.Kind.ToManifestName()} model has no translation signature", nameof(signature));
        }

        var images = signature.Inputs.Where(i => i.Role == TensorRoles.Image).ToArray();
        if (images.Length != 1 || signature.Inputs.Count != 1)
        {
            throw new ModelLoadException($"gan.json: inputs: Translate serves image-to-image models with exactly one input (role 'image'); this one has [{string.Join(", ", signature.Inputs.Select(i => $"{i.Name} ({i.Role})"))}]");
        }

        return new TranslationSignature(images[0], signature);
    }
}

using System.Globalization;
using GanInference.Api.V1;
using SkiaSharp;

namespace GanInference.Cli.Imaging;

/// <summary>Where generated images go, whatever RPC produced them.</summary>
internal interface IImageSink : IDisposable
{
    /// <summary>Formats this sink wants from the server.</summary>
    ImageFormat RequestFormat { get; }

    Task AddAsync(GeneratedImage image);

    /// <summary>Finishes the output and returns the paths written.</summary>
    Task<IReadOnlyList<string>> CompleteAsync();
}

/// <summary>One file per image: <c>{model}-{index}[-t{text}]-s{seed}[-c{label}].{ext}</c>.</summary>
internal sealed class FolderImageSink(string folder, string model, ImageFormat format) : IImageSink
{
    private readonly List<string> _written = [];

    public ImageFormat RequestFormat => format;

    public async Task AddAsync(GeneratedImage image)
    {
        var name = string.Create(CultureInfo.InvariantCulture, $"{model}-{image.Index:D4}");
        if (image.HasTextIndex)
        {
            name += string.Create(CultureInfo.InvariantCulture, $"-t{image.TextIndex}");
        }

        if (image.HasSeed)
        {
            name += string.Create(CultureInfo.InvariantCulture, $"-s{image.Seed}");
        }

        if (image.HasLabel)
        {
            name += string.Create(CultureInfo.InvariantCulture, $"-c{image.Label}");
        }

        var path = Path.Combine(folder, name + OutputFiles.Extension(image.Format));
        await OutputFiles.WriteAtomicallyAsync(path, image.Data.Memory).ConfigureAwait(false);
        _written.Add(path);
    }

    public Task<IReadOnlyList<string>> CompleteAsync() => Task.FromResult<IReadOnlyList<string>>(_written);

    public void Dispose()
    {
    }
}

/// <summary>All images on one grid (PNG or JPEG by the file's name); asks for RAW_U8 so no pixel goes through a lossy codec twice.</summary>
internal sealed class ContactSheetSink(string path, int columns, int scale, SKEncodedImageFormat format) : IImageSink
{
    private readonly List<SKBitmap> _images = [];

    public ImageFormat RequestFormat => ImageFormat.RawU8;

    public Task AddAsync(GeneratedImage image)
    {
        _images.Add(ImageBitmaps.FromGenerated(image));
        return Task.CompletedTask;
    }

    public async Task<IReadOnlyList<string>> CompleteAsync()
    {
        var sheet = ContactSheet.Compose(_images, columns, scale, format);
        await OutputFiles.WriteAtomicallyAsync(path, sheet).ConfigureAwait(false);
        return [path];
    }

    public void Dispose()
    {
        foreach (var image in _images)
        {
            image.Dispose();
        }

        _images.Clear();
    }
}

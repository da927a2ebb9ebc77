using GanInference.Api.V1;
using Google.Protobuf;
using Grpc.Core;
using static GanInference.Server.Tests.Translation.TestImages;

namespace GanInference.Server.Tests.Translation;

/// <summary>Bad input to Translate: each is INVALID_ARGUMENT naming the image and the reason, or FAILED_PRECONDITION for the kind.</summary>
[Collection(TranslateCollection.Name)]
public sealed class TranslateErrorTests(TranslateFixture fixture)
{
    private const int S = TranslateFixture.Size;

    private static readonly byte[] ValidPng = Png(GreyPixels(S, S), S, S, 1);

    private Api.V1.GanInference.GanInferenceClient Client => fixture.Client;

    public static TheoryData<string, InputImage, string> BadImages()
    {
        var corrupt = ValidPng.ToArray();
        for (var i = 16; i < corrupt.Length; i++)
        {
            corrupt[i] = (byte)(i * 31);
        }

        // A PNG header that claims 100000 x 100000 pixels: refused from the header, before any pixel memory.
        var bomb = ValidPng.ToArray();
        bomb[16..24].AsSpan().Clear();
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(bomb.AsSpan(16), 100_000);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(bomb.AsSpan(20), 100_000);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(bomb.AsSpan(29), Crc32(bomb.AsSpan(12, 17)));

        return new()
        {
            { "corrupt png", new InputImage { Data = ByteString.CopyFrom(corrupt) }, "PNG" },
            { "truncated png", new InputImage { Data = ByteString.CopyFrom(ValidPng.AsSpan(0, ValidPng.Length / 2)) }, "PNG" },
            { "gif", new InputImage { Data = ByteString.CopyFrom("GIF89a\x08\x00\x08\x00\x80\x00\x00"u8) }, "looks like GIF, which is not supported" },
            { "bmp", new InputImage { Data = ByteString.CopyFrom("BM\x46\x00\x00\x00\x00\x00\x00\x00\x36\x00"u8) }, "looks like BMP, which is not supported" },
            { "png declared, jpeg sent", new InputImage { Data = ByteString.CopyFrom(Jpeg(GreyPixels(S, S), S, S, 1)), Encoding = InputEncoding.Png }, "encoding is PNG but the data is not a PNG file" },
            { "empty", new InputImage(), "data is empty" },
            { "zero-sized raw", new InputImage { Data = ByteString.CopyFrom(1, 2, 3), Encoding = InputEncoding.RawU8, Width = 0, Height = 3, Channels = 1 }, "image size 0x3 must be positive" },
            { "raw length", new InputImage { Data = ByteString.CopyFrom(new byte[10]), Encoding = InputEncoding.RawU8, Width = S, Height = S, Channels = 1 }, "10 bytes, but 8x8x1 at 1 byte(s) per value needs 64" },
            { "raw channels", new InputImage { Data = ByteString.CopyFrom(new byte[S * S * 2]), Encoding = InputEncoding.RawU8, Width = S, Height = S, Channels = 2 }, "channels: 2 is not 1 (grey) or 3 (RGB)" },
            { "raw over the pixel limit", new InputImage { Data = ByteString.CopyFrom(new byte[40 * 40]), Encoding = InputEncoding.RawU8, Width = 40, Height = 40, Channels = 1 }, $"image of 40x40 = 1600 pixels is over the limit of {TranslateFixture.MaxInputImagePixels} pixels (Limits:MaxInputImagePixels)" },
            { "png over the pixel limit", new InputImage { Data = ByteString.CopyFrom(bomb) }, "100000x100000" },
            { "non-finite raw float", new InputImage { Data = RawF32([.. Enumerable.Repeat(0f, (S * S) - 1), float.NaN]), Encoding = InputEncoding.RawF32, Width = S, Height = S, Channels = 1 }, "value 63 is NaN" },
            { "unknown encoding", new InputImage { Data = ByteString.CopyFrom(1, 2), Encoding = (InputEncoding)9 }, "encoding 9 is not one of" },
        };
    }

    [Theory]
    [MemberData(nameof(BadImages))]
    public async Task A_bad_image_is_an_invalid_argument_naming_its_index_and_reason(string because, InputImage bad, string reason)
    {
        var good = new InputImage { Data = ByteString.CopyFrom(ValidPng) };
        var error = await Assert.ThrowsAsync<RpcException>(() => Client.TranslateAsync(new TranslateRequest
        {
            Model = TranslateFixture.Grey,
            Images = { good, good, bad, good },
        }).ResponseAsync);

        Assert.True(error.StatusCode == StatusCode.InvalidArgument, $"{because}: got {error.StatusCode} {error.Status.Detail}");
        Assert.StartsWith("images[2]", error.Status.Detail);
        Assert.Contains(reason, error.Status.Detail);
    }

    [Fact]
    public async Task A_truncated_png_says_it_is_truncated()
    {
        // Cut inside the image data (the header and first chunks are intact), so the header parses and the pixels end early.
        var noise = new byte[32 * 32 * 3];
        new Random(7).NextBytes(noise); // incompressible, so the image data fills most of the file
        var big = Png(noise, 32, 32, 3);
        var error = await Assert.ThrowsAsync<RpcException>(() => Client.TranslateAsync(new TranslateRequest
        {
            Model = TranslateFixture.Rgb,
            Images = { new InputImage { Data = ByteString.CopyFrom(big.AsSpan(0, big.Length * 3 / 4)) } },
        }).ResponseAsync);

        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Contains("images[0]: PNG of 32x32: the data ends before the image does (truncated)", error.Status.Detail);
    }

    /// <summary>The PNG chunk checksum (CRC-32, polynomial 0xEDB88320) of a chunk's type and data.</summary>
    private static uint Crc32(ReadOnlySpan<byte> bytes)
    {
        var crc = 0xFFFFFFFFu;
        foreach (var b in bytes)
        {
            crc ^= b;
            for (var k = 0; k < 8; k++)
            {
                crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB88320u : crc >> 1;
            }
        }

        return ~crc;
    }

    [Fact]
    public async Task Too_many_or_no_images_is_an_invalid_argument_naming_the_limit()
    {
        var image = new InputImage { Data = ByteString.CopyFrom(ValidPng) };
        var request = new TranslateRequest { Model = TranslateFixture.Grey };
        request.Images.AddRange(Enumerable.Repeat(image, TranslateFixture.MaxImagesPerTranslate + 1));
        var tooMany = await Assert.ThrowsAsync<RpcException>(() => Client.TranslateAsync(request).ResponseAsync);
        var none = await Assert.ThrowsAsync<RpcException>(() => Client.TranslateAsync(new TranslateRequest { Model = TranslateFixture.Grey }).ResponseAsync);

        Assert.Equal(StatusCode.InvalidArgument, tooMany.StatusCode);
        Assert.Contains($"images: {TranslateFixture.MaxImagesPerTranslate + 1} images is outside 1..{TranslateFixture.MaxImagesPerTranslate} for this call (Limits:MaxImagesPerTranslate)", tooMany.Status.Detail);
        Assert.Equal(StatusCode.InvalidArgument, none.StatusCode);
        Assert.Contains("images: is empty", none.Status.Detail);
    }

    [Fact]
    public async Task Translate_on_a_generator_is_a_failed_precondition_and_an_unknown_model_not_found()
    {
        var image = new InputImage { Data = ByteString.CopyFrom(ValidPng) };
        var kind = await Assert.ThrowsAsync<RpcException>(() => Client.TranslateAsync(new TranslateRequest { Model = TranslateFixture.Generator, Images = { image } }).ResponseAsync);
        var unknown = await Assert.ThrowsAsync<RpcException>(() => Client.TranslateAsync(new TranslateRequest { Model = "nope", Images = { image } }).ResponseAsync);
        var generate = await Assert.ThrowsAsync<RpcException>(() => Client.GenerateAsync(new GenerateRequest { Model = TranslateFixture.Grey }).ResponseAsync);

        Assert.Equal(StatusCode.FailedPrecondition, kind.StatusCode);
        Assert.Contains($"model '{TranslateFixture.Generator}' is unconditional; Translate serves image-to-image models", kind.Status.Detail);
        Assert.Equal(StatusCode.NotFound, unknown.StatusCode);
        Assert.Equal(StatusCode.FailedPrecondition, generate.StatusCode);
    }

    [Fact]
    public async Task A_bad_output_format_is_an_invalid_argument()
    {
        var image = new InputImage { Data = ByteString.CopyFrom(ValidPng) };
        var error = await Assert.ThrowsAsync<RpcException>(() => Client.TranslateAsync(new TranslateRequest { Model = TranslateFixture.Grey, JpegQuality = 101, Format = ImageFormat.Jpeg, Images = { image } }).ResponseAsync);

        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Contains("jpeg_quality: 101", error.Status.Detail);
    }
}

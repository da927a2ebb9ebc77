using GanInference.Api.V1;
using Google.Protobuf;
using Grpc.Core;
using static GanInference.Server.Tests.Translation.TestImages;

namespace GanInference.Server.Tests.Translation;

/// <summary>Translate over a real loopback server: formats, channel conversion, resizing and batching.</summary>
[Collection(TranslateCollection.Name)]
public sealed class TranslateTests(TranslateFixture fixture)
{
    private const int S = TranslateFixture.Size;

    private Api.V1.GanInference.GanInferenceClient Client => fixture.Client;

    [Fact]
    public async Task Raw_float_input_runs_through_the_model_unchanged_and_the_reply_names_model_and_hash()
    {
        var values = Enumerable.Range(0, S * S).Select(i => MathF.Sin(i * 0.3f)).ToArray();
        var response = await Client.TranslateAsync(new TranslateRequest
        {
            Model = TranslateFixture.GreyToRgb,
            Format = ImageFormat.RawF32,
            Images = { new InputImage { Data = RawF32(values), Encoding = InputEncoding.RawF32, Width = S, Height = S, Channels = 1, Id = "wave" } },
        });

        var image = Assert.Single(response.Images);
        Assert.Equal(TranslateFixture.GreyToRgb, response.Model);
        Assert.StartsWith("sha256:", response.ContentHash);
        Assert.Equal(("wave", 0u, 3u, (uint)S, (uint)S, 0u, 0u), (image.Id, image.Index, image.Channels, image.Width, image.Height, image.ResizedFromWidth, image.ResizedFromHeight));
        var output = Floats(image.Data);
        for (var p = 0; p < S * S; p++)
        {
            Assert.Equal(values[p], output[p], 5);
            Assert.Equal(-values[p], output[(S * S) + p], 5);
            Assert.Equal(values[p] / 2, output[(2 * S * S) + p], 5);
        }
    }

    [Fact]
    public async Task A_grey_png_feeds_the_model_as_2v_minus_1_and_raw_u8_output_round_trips_the_bytes()
    {
        var pixels = GreyPixels(S, S);
        var response = await Client.TranslateAsync(new TranslateRequest
        {
            Model = TranslateFixture.Grey,
            Format = ImageFormat.RawU8,
            Images = { new InputImage { Data = ByteString.CopyFrom(Png(pixels, S, S, 1)) } },
        });

        Assert.Equal(pixels, Assert.Single(response.Images).Data.ToByteArray());
    }

    [Fact]
    public async Task An_rgb_image_sent_to_a_grey_model_becomes_bt601_luma()
    {
        var rgb = RgbPixels(S, S);
        var response = await Client.TranslateAsync(new TranslateRequest
        {
            Model = TranslateFixture.Grey,
            Format = ImageFormat.RawF32,
            Images = { new InputImage { Data = ByteString.CopyFrom(Png(rgb, S, S, 3)), Encoding = InputEncoding.Png } },
        });

        var output = Floats(Assert.Single(response.Images).Data);
        for (var p = 0; p < S * S; p++)
        {
            var luma = ((0.299f * rgb[p * 3]) + (0.587f * rgb[(p * 3) + 1]) + (0.114f * rgb[(p * 3) + 2])) / 255f;
            Assert.Equal((2 * luma) - 1, output[p], 4);
        }
    }

    [Fact]
    public async Task A_grey_image_sent_to_an_rgb_model_fills_all_three_channels()
    {
        var grey = GreyPixels(S, S, salt: 3);
        var response = await Client.TranslateAsync(new TranslateRequest
        {
            Model = TranslateFixture.Rgb,
            Format = ImageFormat.RawU8,
            Images = { new InputImage { Data = ByteString.CopyFrom(grey), Encoding = InputEncoding.RawU8, Width = S, Height = S, Channels = 1 } },
        });

        var image = Assert.Single(response.Images);
        Assert.Equal(3u, image.Channels);
        var hwc = image.Data.ToByteArray();
        for (var p = 0; p < S * S; p++)
        {
            Assert.Equal((grey[p], grey[p], grey[p]), (hwc[p * 3], hwc[(p * 3) + 1], hwc[(p * 3) + 2]));
        }
    }

    [Fact]
    public async Task Jpeg_and_raw_rgb_inputs_reach_the_model_as_decoded()
    {
        var rgb = RgbPixels(S, S, salt: 1);
        var jpeg = Jpeg(rgb, S, S, 3);
        var response = await Client.TranslateAsync(new TranslateRequest
        {
            Model = TranslateFixture.Rgb,
            Format = ImageFormat.RawU8,
            Images =
            {
                new InputImage { Data = ByteString.CopyFrom(jpeg), Id = "jpeg" },
                new InputImage { Data = ByteString.CopyFrom(rgb), Encoding = InputEncoding.RawU8, Width = S, Height = S, Channels = 3, Id = "raw" },
            },
        });

        Assert.Equal(["jpeg", "raw"], response.Images.Select(i => i.Id));
        Assert.Equal([0u, 1u], response.Images.Select(i => i.Index));
        Assert.Equal(DecodeRgb(jpeg), response.Images[0].Data.ToByteArray());
        Assert.Equal(rgb, response.Images[1].Data.ToByteArray());
    }

    [Fact]
    public async Task Png_and_jpeg_output_decode_to_the_same_pixels_as_raw_output()
    {
        var rgb = RgbPixels(S, S, salt: 2);
        InputImage Input() => new() { Data = ByteString.CopyFrom(rgb), Encoding = InputEncoding.RawU8, Width = S, Height = S, Channels = 3 };
        var png = await Client.TranslateAsync(new TranslateRequest { Model = TranslateFixture.Rgb, Format = ImageFormat.Png, Images = { Input() } });
        var jpeg = await Client.TranslateAsync(new TranslateRequest { Model = TranslateFixture.Rgb, Format = ImageFormat.Jpeg, JpegQuality = 100, Images = { Input() } });

        Assert.Equal(rgb, DecodeRgb(png.Images[0].Data.ToByteArray()));
        var decodedJpeg = DecodeRgb(jpeg.Images[0].Data.ToByteArray());
        Assert.True(rgb.Zip(decodedJpeg).All(pair => Math.Abs(pair.First - pair.Second) <= 12), "JPEG at quality 100 stays within 12 levels");
    }

    [Fact]
    public async Task A_larger_image_is_resized_bilinearly_and_the_reply_says_from_what_size()
    {
        // Halving with half-pixel centres samples exactly between two source pixels: each output pixel is a 2x2 mean.
        var big = GreyPixels(2 * S, 2 * S, salt: 5);
        var response = await Client.TranslateAsync(new TranslateRequest
        {
            Model = TranslateFixture.Grey,
            Format = ImageFormat.RawF32,
            Images = { new InputImage { Data = ByteString.CopyFrom(big), Encoding = InputEncoding.RawU8, Width = 2 * S, Height = 2 * S, Channels = 1 } },
        });

        var image = Assert.Single(response.Images);
        Assert.Equal(((uint)(2 * S), (uint)(2 * S), (uint)S, (uint)S), (image.ResizedFromWidth, image.ResizedFromHeight, image.Width, image.Height));
        var output = Floats(image.Data);
        for (var y = 0; y < S; y++)
        {
            for (var x = 0; x < S; x++)
            {
                var mean = (big[(2 * y * 2 * S) + (2 * x)] + big[(2 * y * 2 * S) + (2 * x) + 1] + big[(((2 * y) + 1) * 2 * S) + (2 * x)] + big[(((2 * y) + 1) * 2 * S) + (2 * x) + 1]) / 4f;
                Assert.Equal(((2 * mean) / 255f) - 1, output[(y * S) + x], 4);
            }
        }
    }

    [Fact]
    public async Task Resize_back_returns_each_answer_at_its_input_size_and_leaves_model_sized_inputs_alone()
    {
        var response = await Client.TranslateAsync(new TranslateRequest
        {
            Model = TranslateFixture.GreyToRgb,
            Format = ImageFormat.Png,
            ResizeBack = true,
            Images =
            {
                new InputImage { Data = ByteString.CopyFrom(Png(GreyPixels(20, 12), 20, 12, 1)) },
                new InputImage { Data = ByteString.CopyFrom(Png(GreyPixels(S, S), S, S, 1)) },
                new InputImage { Data = ByteString.CopyFrom(Png(GreyPixels(4, 4), 4, 4, 1)) },
            },
        });

        var sizes = response.Images.Select(i => (i.Width, i.Height, i.ResizedFromWidth, i.ResizedFromHeight, i.Channels)).ToArray();
        Assert.Equal([(20u, 12u, 20u, 12u, 3u), ((uint)S, (uint)S, 0u, 0u, 3u), (4u, 4u, 4u, 4u, 3u)], sizes);
        using var decoded = SkiaSharp.SKBitmap.Decode(response.Images[0].Data.ToByteArray());
        Assert.Equal((20, 12), (decoded.Width, decoded.Height));

        // A flat input stays flat through resize, model and resize back: channel 1 of (x, -x, x/2) is the negative.
        var flat = Enumerable.Repeat((byte)200, 20 * 12).ToArray();
        var back = await Client.TranslateAsync(new TranslateRequest
        {
            Model = TranslateFixture.GreyToRgb,
            Format = ImageFormat.RawU8,
            ResizeBack = true,
            Images = { new InputImage { Data = ByteString.CopyFrom(flat), Encoding = InputEncoding.RawU8, Width = 20, Height = 12, Channels = 1 } },
        });
        var hwc = back.Images[0].Data.ToByteArray();
        Assert.Equal(20 * 12 * 3, hwc.Length);
        Assert.All(Enumerable.Range(0, 20 * 12), p => Assert.Equal((200, 55), (hwc[p * 3], hwc[(p * 3) + 1])));
    }

    [Fact]
    public async Task A_large_jpeg_is_decoded_at_a_reduced_scale_yet_the_reply_speaks_of_the_size_sent()
    {
        // 32×24 for an 8×8 model: decoded at 3/8 (12×9, the smallest eighth no smaller than 8×8), then resized.
        var jpeg = Jpeg(RgbPixels(32, 24), 32, 24, 3, quality: 100);
        var response = await Client.TranslateAsync(new TranslateRequest
        {
            Model = TranslateFixture.Rgb,
            Format = ImageFormat.RawU8,
            ResizeBack = true,
            Images = { new InputImage { Data = ByteString.CopyFrom(jpeg) } },
        });

        var image = Assert.Single(response.Images);
        Assert.Equal((32u, 24u, 32u, 24u), (image.Width, image.Height, image.ResizedFromWidth, image.ResizedFromHeight));
        Assert.Equal(32 * 24 * 3, image.Data.Length);
    }

    [Fact]
    public async Task Images_of_concurrent_calls_share_batches()
    {
        var before = fixture.BatchedSizes.ToArray();
        var calls = Enumerable.Range(0, 8).Select(i => Client.TranslateAsync(new TranslateRequest
        {
            Model = TranslateFixture.Batched,
            Format = ImageFormat.RawU8,
            Images = { new InputImage { Data = ByteString.CopyFrom(GreyPixels(S, S, salt: i)), Encoding = InputEncoding.RawU8, Width = S, Height = S, Channels = 1 } },
        }).ResponseAsync).ToArray();
        var responses = await Task.WhenAll(calls);

        // Each caller gets its own image back, though the batch held all of them.
        for (var i = 0; i < responses.Length; i++)
        {
            Assert.Equal(GreyPixels(S, S, salt: i), responses[i].Images[0].Data.ToByteArray());
        }

        var batches = fixture.BatchedSizes.Skip(before.Length).ToArray();
        Assert.Equal(8, batches.Sum());
        Assert.True(batches.Length < 8, $"8 single-image calls ran as {batches.Length} batches ({string.Join(", ", batches)}); expected them coalesced");
    }
}

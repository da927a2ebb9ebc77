using GanInference.Api.V1;
using Google.Protobuf;
using Grpc.Core;
using static GanInference.Server.Tests.Translation.TestImages;

namespace GanInference.Server.Tests.Translation;

/// <summary>TranslateStream: answers in order with index and id, per-image errors that do not stop the stream.</summary>
[Collection(TranslateCollection.Name)]
public sealed class TranslateStreamTests(TranslateFixture fixture)
{
    private const int S = TranslateFixture.Size;

    private Api.V1.GanInference.GanInferenceClient Client => fixture.Client;

    [Fact]
    public async Task One_corrupt_image_in_the_middle_gets_an_error_and_every_other_image_comes_back_in_order()
    {
        const int count = 25; // several times the stream window of 4
        const int corrupt = 12;
        using var call = Client.TranslateStream();
        var writer = Task.Run(async () =>
        {
            for (var i = 0; i < count; i++)
            {
                var data = i == corrupt ? ByteString.CopyFrom(0x89, 0x50, 0x4E, 0x47, 1, 2, 3) : ByteString.CopyFrom(Png(GreyPixels(S, S, salt: i), S, S, 1));
                await call.RequestStream.WriteAsync(new TranslateStreamRequest
                {
                    Model = i == 0 ? TranslateFixture.Grey : string.Empty,
                    Format = ImageFormat.RawU8,
                    Image = new InputImage { Data = data, Id = $"img-{i}" },
                });
            }

            await call.RequestStream.CompleteAsync();
        });

        var answers = new List<TranslateStreamResponse>();
        await foreach (var answer in call.ResponseStream.ReadAllAsync())
        {
            answers.Add(answer);
        }

        await writer;
        Assert.Equal(Enumerable.Range(0, count).Select(i => (uint)i), answers.Select(a => a.Index));
        Assert.Equal(Enumerable.Range(0, count).Select(i => $"img-{i}"), answers.Select(a => a.Id));
        for (var i = 0; i < count; i++)
        {
            if (i == corrupt)
            {
                Assert.Equal(TranslateStreamResponse.ResultOneofCase.Error, answers[i].ResultCase);
                Assert.Equal((int)StatusCode.InvalidArgument, answers[i].Error.Code);
                Assert.StartsWith("image: ", answers[i].Error.Message);
            }
            else
            {
                Assert.Equal(TranslateStreamResponse.ResultOneofCase.Image, answers[i].ResultCase);
                Assert.Equal(GreyPixels(S, S, salt: i), answers[i].Image.Data.ToByteArray());
                Assert.Equal((uint)i, answers[i].Image.Index);
            }
        }
    }

    [Fact]
    public async Task A_stream_keeps_at_most_its_window_of_images_in_flight()
    {
        // The model waits up to 2 s for a batch of 8; a stream of 8 with a window of 4 can never queue more than 4,
        // so every batch it produces holds at most 4 images: the window, not the client, bounds what the server holds.
        var before = fixture.BatchedSizes.Count;
        using var call = Client.TranslateStream();
        for (var i = 0; i < 8; i++)
        {
            await call.RequestStream.WriteAsync(new TranslateStreamRequest
            {
                Model = TranslateFixture.Batched,
                Format = ImageFormat.RawU8,
                Image = new InputImage { Data = ByteString.CopyFrom(GreyPixels(S, S, salt: i)), Encoding = InputEncoding.RawU8, Width = S, Height = S, Channels = 1 },
            });
        }

        await call.RequestStream.CompleteAsync();
        var answers = await call.ResponseStream.ReadAllAsync().ToListAsync();

        Assert.Equal(Enumerable.Range(0, 8).Select(i => GreyPixels(S, S, salt: i)), answers.Select(a => a.Image.Data.ToByteArray()));
        var batches = fixture.BatchedSizes.Skip(before).ToArray();
        Assert.Equal(8, batches.Sum());
        Assert.All(batches, size => Assert.InRange(size, 1, TranslateFixture.StreamWindow));
    }

    [Fact]
    public async Task A_stream_to_a_generator_fails_with_failed_precondition()
    {
        using var call = Client.TranslateStream();
        await call.RequestStream.WriteAsync(new TranslateStreamRequest { Model = TranslateFixture.Generator, Image = new InputImage { Data = ByteString.CopyFrom(1, 2) } });
        await call.RequestStream.CompleteAsync();

        var error = await Assert.ThrowsAsync<RpcException>(() => call.ResponseStream.MoveNext(CancellationToken.None));
        Assert.Equal(StatusCode.FailedPrecondition, error.StatusCode);
    }

    [Fact]
    public async Task A_message_naming_another_model_ends_the_stream_with_invalid_argument_after_the_earlier_answers()
    {
        using var call = Client.TranslateStream();
        var image = new InputImage { Data = ByteString.CopyFrom(Png(GreyPixels(S, S), S, S, 1)) };
        await call.RequestStream.WriteAsync(new TranslateStreamRequest { Model = TranslateFixture.Grey, Image = image });
        Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));
        Assert.Equal(TranslateStreamResponse.ResultOneofCase.Image, call.ResponseStream.Current.ResultCase);

        await call.RequestStream.WriteAsync(new TranslateStreamRequest { Model = TranslateFixture.Rgb, Image = image });
        var error = await Assert.ThrowsAsync<RpcException>(() => call.ResponseStream.MoveNext(CancellationToken.None));
        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Contains("model: message 1 names another model", error.Status.Detail);
    }

    [Fact]
    public async Task An_empty_stream_ends_cleanly()
    {
        using var call = Client.TranslateStream();
        await call.RequestStream.CompleteAsync();

        Assert.False(await call.ResponseStream.MoveNext(CancellationToken.None));
        Assert.Equal(StatusCode.OK, call.GetStatus().StatusCode);
    }
}

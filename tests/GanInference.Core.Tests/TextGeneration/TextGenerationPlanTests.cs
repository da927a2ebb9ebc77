using GanInference.Core.Errors;
using GanInference.Core.Repository;
using GanInference.Core.TextGeneration;
using GanInference.Tests.TestModels;

namespace GanInference.Core.Tests.TextGeneration;

public sealed class TextGenerationPlanTests : IAsyncLifetime
{
    private static readonly TextRequestLimits Limits = new(MaxTexts: 4, MaxTextLength: 40, MaxImages: 12, "Limits:MaxTextsPerRequest", "Limits:MaxTextLength", "Limits:MaxImagesPerRequest");
    private readonly TinyGanModels _models = new();
    private ModelRepository? _repository;

    private ModelRepository Repository => _repository ?? throw new InvalidOperationException("not loaded");

    public async Task InitializeAsync()
    {
        TinyTextModels.AddStage1(_models.Root, "s1");
        TinyTextModels.AddStage2(_models.Root, "s2");
        TinyTextModels.AddPipeline(_models.Root, "pipe", ["s1", "s2"]);
        _repository = await RepositoryFactory.LoadAsync(_models.Root);
    }

    public async Task DisposeAsync()
    {
        if (_repository is not null)
        {
            await _repository.DisposeAsync();
        }

        _models.Dispose();
    }

    [Fact]
    public void Images_are_numbered_text_major_each_with_its_seed_token_row_and_the_steps_stream_offset()
    {
        using var target = Repository.AcquireText("pipe");

        var plan = TextGenerationPlan.Create(target, new TextGenerationSpec { Texts = ["Red seven", "a thin blue one", "green digit"], Count = 2, Seed = 10 }, Limits);

        Assert.Equal((3, 2, 6), (plan.Rows, plan.CountPerRow, plan.Count));
        Assert.Equal([10UL, 11UL, 12UL, 13UL, 14UL, 15UL], Enumerable.Range(0, 6).Select(plan.SeedAt));
        Assert.Equal([0, 0, 1, 1, 2, 2], Enumerable.Range(0, 6).Select(plan.RowAt));
        var item = plan.ItemAt(3, streamOffset: 7);
        Assert.Equal((13UL, true, 7), (item.Seed, item.HasSeed, item.StreamOffset));
        Assert.Equal(TinyTextModels.Tokens("a", "thin", "blue", "one"), item.Tokens.ToArray());
        Assert.True(item.Embedding.IsEmpty);
        Assert.True(item.Image.IsEmpty);
    }

    [Fact]
    public void Embedding_rows_feed_the_embedding_and_leave_the_tokens_all_padding()
    {
        using var target = Repository.AcquireText("s1");
        float[] embeddings = [1, 2, 3, 4, 5, 6, 7, 8];

        var plan = TextGenerationPlan.Create(target, new TextGenerationSpec { Embeddings = embeddings, Seeds = [7, 8, 9, 10] }, Limits);

        Assert.Equal((2, 2), (plan.Rows, plan.CountPerRow));
        var item = plan.ItemAt(2, streamOffset: 0);
        Assert.Equal((9UL, 1), (item.Seed, plan.RowAt(2)));
        Assert.Equal([5f, 6f, 7f, 8f], item.Embedding.ToArray());
        Assert.True(item.Tokens.IsEmpty);
    }

    [Fact]
    public void Seeds_wrap_at_two_to_the_64_and_a_request_without_a_seed_gets_a_random_one()
    {
        using var target = Repository.AcquireText("s1");

        var wrapping = TextGenerationPlan.Create(target, new TextGenerationSpec { Texts = ["red"], Count = 3, Seed = ulong.MaxValue - 1 }, Limits);
        var first = TextGenerationPlan.Create(target, new TextGenerationSpec { Texts = ["red"] }, Limits);
        var second = TextGenerationPlan.Create(target, new TextGenerationSpec { Texts = ["red"] }, Limits);

        Assert.Equal([ulong.MaxValue - 1, ulong.MaxValue, 0UL], Enumerable.Range(0, 3).Select(wrapping.SeedAt));
        Assert.NotEqual(first.SeedAt(0), second.SeedAt(0));
    }

    [Fact]
    public void The_text_length_limit_is_checked_before_tokenizing()
    {
        using var target = Repository.AcquireText("s1");

        // 41 characters of unknown words: the length is reported, not the words.
        var error = Assert.Throws<InvalidFieldException>(() =>
            TextGenerationPlan.Create(target, new TextGenerationSpec { Texts = ["red", new string('z', 41)] }, Limits));

        Assert.Equal("texts[1]", error.Field);
        Assert.Equal("texts[1]: text of 41 characters is over the limit of 40 (Limits:MaxTextLength)", error.Message);
    }
}

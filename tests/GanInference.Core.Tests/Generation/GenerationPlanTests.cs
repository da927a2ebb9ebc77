using GanInference.Core.Errors;
using GanInference.Core.Generation;
using GanInference.Core.Repository;
using GanInference.Tests.TestModels;

namespace GanInference.Core.Tests.Generation;

public sealed class GenerationPlanTests : IAsyncLifetime
{
    private readonly TinyGanModels _models = new();
    private ModelRepository _repository = null!;

    public async Task InitializeAsync()
    {
        _models.AddUnconditional("plain");
        _models.AddConditional("cond", classes: 3);
        _models.AddImageToImage("pix");
        _repository = await RepositoryFactory.LoadAsync(_models.Root);
    }

    public async Task DisposeAsync()
    {
        await _repository.DisposeAsync();
        _models.Dispose();
    }

    [Fact]
    public void Count_and_seed_give_consecutive_seeds()
    {
        var plan = Plan("plain", new GenerationSpec { Count = 3, Seed = ulong.MaxValue - 1 });
        Assert.Equal(3, plan.Count);
        Assert.Equal([ulong.MaxValue - 1, ulong.MaxValue, 0UL], Enumerable.Range(0, 3).Select(i => plan.SeedAt(i)!.Value));
        Assert.Null(plan.LabelAt(0));
    }

    [Fact]
    public void Explicit_seeds_override_and_imply_the_count()
    {
        var plan = Plan("plain", new GenerationSpec { Seed = 5, Seeds = [42, 7] });
        Assert.Equal(2, plan.Count);
        Assert.Equal([42UL, 7UL], new[] { plan.SeedAt(0)!.Value, plan.SeedAt(1)!.Value });
    }

    [Fact]
    public void Absent_seed_picks_one_and_reports_it()
    {
        var plan = Plan("plain", new GenerationSpec { Count = 2 });
        Assert.Equal(unchecked(plan.SeedAt(0)!.Value + 1), plan.SeedAt(1));
    }

    [Fact]
    public void Labels_default_to_seed_mod_classes_and_index_mod_classes_for_latents()
    {
        var seeded = Plan("cond", new GenerationSpec { Seeds = [10, 11, 12] });
        Assert.Equal([1, 2, 0], Enumerable.Range(0, 3).Select(i => seeded.LabelAt(i)!.Value));

        var latents = Plan("cond", new GenerationSpec { Latents = new float[TinyGanModels.LatentDim * 4] });
        Assert.Equal([0, 1, 2, 0], Enumerable.Range(0, 4).Select(i => latents.LabelAt(i)!.Value));
        Assert.Null(latents.SeedAt(0));
    }

    [Fact]
    public void One_label_applies_to_all_and_one_per_image_is_kept()
    {
        var one = Plan("cond", new GenerationSpec { Count = 3, Seed = 0, Labels = [2] });
        Assert.All(Enumerable.Range(0, 3), i => Assert.Equal(2, one.LabelAt(i)));
        var each = Plan("cond", new GenerationSpec { Count = 3, Seed = 0, Labels = [2, 0, 1] });
        Assert.Equal([2, 0, 1], Enumerable.Range(0, 3).Select(i => each.LabelAt(i)!.Value));
    }

    [Fact]
    public void Default_truncation_applies_when_the_request_gives_none()
    {
        Assert.Equal(0.7f, Plan("plain", new GenerationSpec { Seed = 1 }, defaultTruncation: 0.7f).Truncation);
        Assert.Equal(0.7f, Plan("plain", new GenerationSpec { Seed = 1, Truncation = 0 }, defaultTruncation: 0.7f).Truncation);
        Assert.Equal(1.5f, Plan("plain", new GenerationSpec { Seed = 1, Truncation = 1.5f }, defaultTruncation: 0.7f).Truncation);
    }

    [Theory]
    [InlineData("plain", "labels", "model 'plain' is unconditional and takes no labels")]
    [InlineData("cond-range", "labels[1]", "3 is outside 0..2")]
    [InlineData("cond-count", "labels", "expected 0, 1 or 3 values")]
    [InlineData("latents", "latents", "length 12 is not a multiple of latent_dim 8")]
    [InlineData("latents-nan", "latents[3]", "NaN is not a finite number")]
    [InlineData("count-mismatch", "count", "5 does not match the 2 values in seeds")]
    [InlineData("too-many", "count", "11 images is outside 1..10")]
    [InlineData("truncation", "truncation", "-1 must be 0 or a finite number >= 0.01")]
    [InlineData("tiny-truncation", "truncation", "must be 0 or a finite number >= 0.01")]
    public void Bad_fields_are_named_with_the_allowed_range(string scenario, string field, string message)
    {
        var (model, spec) = scenario switch
        {
            "plain" => ("plain", new GenerationSpec { Labels = [1] }),
            "cond-range" => ("cond", new GenerationSpec { Count = 2, Labels = [0, 3] }),
            "cond-count" => ("cond", new GenerationSpec { Count = 3, Labels = [0, 1] }),
            "latents" => ("plain", new GenerationSpec { Latents = new float[12] }),
            "latents-nan" => ("plain", new GenerationSpec { Latents = new float[] { 0, 0, 0, float.NaN, 0, 0, 0, 0 } }),
            "count-mismatch" => ("plain", new GenerationSpec { Count = 5, Seeds = [1, 2] }),
            "too-many" => ("plain", new GenerationSpec { Count = 11 }),
            "truncation" => ("plain", new GenerationSpec { Truncation = -1 }),
            _ => ("plain", new GenerationSpec { Truncation = 0.001f }),
        };

        var error = Assert.Throws<InvalidFieldException>(() => Plan(model, spec));

        Assert.Equal(field, error.Field);
        Assert.Contains(message, error.Message);
        Assert.Equal(GanErrorKind.InvalidArgument, error.Kind);
    }

    [Fact]
    public void A_model_of_another_kind_is_a_failed_precondition()
    {
        var error = Assert.Throws<ModelKindMismatchException>(() => Plan("pix", new GenerationSpec { Count = 1 }));
        Assert.Contains("image-to-image", error.Message);
        Assert.Equal(GanErrorKind.FailedPrecondition, error.Kind);
    }

    private GenerationPlan Plan(string model, GenerationSpec spec, float defaultTruncation = 0)
    {
        var served = _repository.Get(model);
        return GenerationPlan.Create(model, served.Signature, defaultTruncation, spec, maxImages: 10);
    }
}

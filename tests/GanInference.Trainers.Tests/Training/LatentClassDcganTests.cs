using GanInference.Trainers.Models;
using GanInference.Trainers.Training;
using static TorchSharp.torch;

namespace GanInference.Trainers.Tests.Training;

/// <summary>
/// <c>train dcgan --latent-classes</c>: a class-conditional generator that reads its class from z, so the served model
/// takes z alone and every class is equally likely for any i.i.d. latent, truncated or not.
/// </summary>
public sealed class LatentClassDcganTests
{
    private static readonly GanArchitecture Architecture = new() { Kind = ModelKind.Dcgan, LatentClasses = true, GeneratorWidth = 4, DiscriminatorWidth = 4, LabelEmbeddingDimension = 4 };

    [Fact]
    public void The_latent_class_is_the_index_of_the_largest_of_the_first_ten_coordinates()
    {
        using var scope = NewDisposeScope();
        var z = zeros(3, 12);
        z[0, 3] = tensor(0.5f);
        z[1, 9] = tensor(0.1f);
        z[1, 10] = tensor(5f); // coordinates after the tenth never decide the class
        z[2] = -ones(12);
        z[2, 0] = tensor(-0.9f);

        Assert.Equal([3L, 9L, 0L], ConditionalDcganGenerator.LatentClass(z, 10).data<long>().ToArray());
    }

    [Theory]
    [InlineData(0f)]
    [InlineData(0.5f)]
    public void Every_class_is_equally_likely_for_normal_latents_truncated_by_rejection_or_not(float truncation)
    {
        using var scope = NewDisposeScope();
        random.manual_seed(3);
        const int count = 100_000;
        var normals = randn(count * 10 * 3);
        if (truncation > 0)
        {
            // The server's truncation: a coordinate with |n| > t is redrawn, so each is N(0, 1) conditioned on |n| ≤ t
            // (P(|n| ≤ 0.5) = 0.38, so three draws per coordinate leave enough).
            normals = normals.masked_select(normals.abs() <= truncation);
        }

        var z = normals.narrow(0, 0, count * 10).reshape(count, 10);

        var shares = ConditionalDcganGenerator.LatentClass(z, 10).bincount(null, 10).to_type(ScalarType.Float64) / count;

        // Binomial standard error at p = 0.1, n = 100,000 is 0.00095: ±0.005 is over five of them.
        Assert.All(shares.data<double>().ToArray(), share => Assert.InRange(share, 0.095, 0.105));
    }

    [Fact]
    public void The_generator_reads_its_class_from_z_and_refuses_labels()
    {
        random.manual_seed(4);
        using var generator = new ConditionalDcganGenerator(Architecture with { GeneratorWidth = 8 });
        generator.eval();
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var z = randn(6, 100);

        var generated = generator.Generate(z, null);

        Assert.Equal(0f, (generated - generator.forward(z, ConditionalDcganGenerator.LatentClass(z, 10))).abs().max().item<float>());
        var otherClass = (ConditionalDcganGenerator.LatentClass(z, 10) + 1) % 10;
        Assert.True((generated - generator.forward(z, otherClass)).abs().max().item<float>() > 1e-4f, "the class must change the image");
        Assert.Throws<ArgumentException>(() => generator.Generate(z, otherClass));
    }

    [Fact]
    public void Training_gives_the_discriminator_the_latent_classes_of_the_generated_images()
    {
        using var scope = NewDisposeScope();
        random.manual_seed(5);
        var (latents, labels) = GanTrainer.DrawGenerated(Architecture, 64);
        Assert.Equal(ConditionalDcganGenerator.LatentClass(latents, 10).data<long>().ToArray(), labels!.data<long>().ToArray());

        // A conditional run draws the labels (before z, as the shipped cdcgan run did); an unconditional one has none.
        random.manual_seed(5);
        var (conditionalLatents, drawn) = GanTrainer.DrawGenerated(Architecture with { Kind = ModelKind.Cdcgan, LatentClasses = false }, 64);
        random.manual_seed(5);
        Assert.Equal(randint(0, 10, [64], dtype: ScalarType.Int64).data<long>().ToArray(), drawn!.data<long>().ToArray());
        Assert.Equal(randn(64, 100).data<float>().ToArray(), conditionalLatents.data<float>().ToArray());
        Assert.Null(GanTrainer.DrawGenerated(Architecture with { LatentClasses = false }, 4).Labels);
    }

    [Fact]
    public void An_architecture_that_cannot_read_a_class_from_z_is_refused_naming_the_option()
    {
        var cdcgan = Assert.Throws<ArgumentException>(() => (Architecture with { Kind = ModelKind.Cdcgan }).Validate());
        Assert.Contains("Dcgan only", cdcgan.Message, StringComparison.Ordinal);
        var shortLatent = Assert.Throws<ArgumentOutOfRangeException>(() => (Architecture with { LatentDimension = 8 }).Validate());
        Assert.Contains("--latent", shortLatent.Message, StringComparison.Ordinal);
        var head = Assert.Throws<ArgumentException>(() => (Architecture with { DiscriminatorHead = DiscriminatorHead.MinibatchStd }).Validate());
        Assert.Contains("--d-head", head.Message, StringComparison.Ordinal);
        Architecture.Validate();
    }

    [Fact]
    public async Task A_run_trains_checkpoints_and_resumes_as_a_latent_class_model_and_refuses_to_resume_a_plain_one_with_the_flag()
    {
        using var temp = new TempDirectory();
        TinyMnist.Write(temp.Combine("data"), trainCount: 48, testCount: 10, gzip: false);
        var options = new TrainingOptions
        {
            Architecture = Architecture,
            DataDirectory = temp.Combine("data"),
            RunDirectory = temp.Combine("run"),
            Epochs = 1,
            BatchSize = 16,
            Seed = 5,
            Command = "test",
        };
        var first = await new GanTrainer(options).RunAsync(new Progress<TrainingProgress>(), CancellationToken.None);
        Assert.True((await Checkpoint.ReadInfoAsync(first.LastCheckpoint, CancellationToken.None)).Architecture.LatentClasses);

        // Resumed without the flag, the checkpoint's architecture (latent classes) is kept.
        var plainOptions = options with { Architecture = Architecture with { LatentClasses = false }, Epochs = 2, ResumeFrom = first.LastCheckpoint };
        var resumed = await new GanTrainer(plainOptions).RunAsync(new Progress<TrainingProgress>(), CancellationToken.None);
        var info = await Checkpoint.ReadInfoAsync(resumed.LastCheckpoint, CancellationToken.None);
        Assert.True(info.Architecture.LatentClasses);
        Assert.Equal(6, info.Step);
        var rows = File.ReadAllLines(Path.Combine(options.RunDirectory, "loss.csv")).Skip(1).ToArray();
        Assert.Equal(6, rows.Length);
        Assert.All(rows.SelectMany(r => r.Split(',').Skip(2)), v => Assert.True(double.IsFinite(double.Parse(v, System.Globalization.CultureInfo.InvariantCulture)), v));

        // A plain run resumed with --latent-classes given explicitly is refused, naming the flag.
        var plain = await new GanTrainer(plainOptions with { RunDirectory = temp.Combine("plain"), Epochs = 1, ResumeFrom = null }).RunAsync(new Progress<TrainingProgress>(), CancellationToken.None);
        var error = await Assert.ThrowsAsync<ArgumentException>(() => new GanTrainer(options with { RunDirectory = temp.Combine("plain"), Epochs = 2, ResumeFrom = plain.LastCheckpoint, ExplicitOptions = new HashSet<string> { "--latent-classes" } })
            .RunAsync(new Progress<TrainingProgress>(), CancellationToken.None));
        Assert.Contains("--latent-classes", error.Message, StringComparison.Ordinal);
    }
}

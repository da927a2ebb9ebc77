using GanInference.Trainers.Data;
using GanInference.Trainers.Models;
using GanInference.Trainers.TextToImage;
using GanInference.Trainers.Training;
using static TorchSharp.torch;

namespace GanInference.Trainers.Tests.TextToImage;

/// <summary>
/// Thickness trained and measured (issue 16): the thickness reader of the evaluation, the thickness-only wrong-caption
/// negatives and the thickness output of the discriminators' auxiliary classifier.
/// </summary>
public sealed class ThicknessTests
{
    private static async Task<(MnistDataset Train, MnistDataset Test)> TinyDigitsAsync(TempDirectory temp)
    {
        TinyMnist.Write(temp.Combine("data"), trainCount: 300, testCount: 60, gzip: false);
        return (await MnistDataset.LoadAsync(temp.Combine("data"), MnistSplit.Train, CancellationToken.None),
            await MnistDataset.LoadAsync(temp.Combine("data"), MnistSplit.Test, CancellationToken.None));
    }

    /// <summary>Every test digit at each of the three thicknesses, colour and background cycling over the valid pairs.</summary>
    private static List<(DigitAttributes Attributes, string Caption)> AllThicknesses(MnistDataset test)
    {
        var pairs = CaptionGrammar.AllCombinations().Where(a => a.Digit == 0 && a.Thickness == 0).ToArray();
        var captions = new List<(DigitAttributes, string)>();
        for (var i = 0; i < test.Count; i++)
        {
            for (var thickness = 0; thickness < 3; thickness++)
            {
                var attributes = pairs[i % pairs.Length] with { Digit = test.Labels[i], Thickness = thickness };
                captions.Add((attributes, CaptionGrammar.Caption(attributes, 0, numeral: false, withThickness: true)));
            }
        }

        return captions;
    }

    [Theory]
    [InlineData(CaptionedDigits.LargeSize)]
    [InlineData(CaptionedDigits.SmallSize)]
    public async Task Reader_calibrated_on_training_digits_tells_the_thicknesses_of_test_renders_apart_and_not_shuffled_ones(int size)
    {
        using var temp = new TempDirectory();
        var (train, test) = await TinyDigitsAsync(temp);
        var reader = ThicknessReader.Calibrate(train, size, perDigit: 20);
        var captions = AllThicknesses(test);
        // RenderRealBoth paints caption i's attributes on the next test digit of its class: test digit i, three times.
        var (small, large) = TextToImageEvaluator.RenderRealBoth(test, captions);
        var images = size == CaptionedDigits.LargeSize ? large : small;

        for (var digit = 0; digit < 10; digit++)
        {
            Assert.True(reader.Width(digit, 0) < reader.Width(digit, 1) && reader.Width(digit, 1) < reader.Width(digit, 2), $"digit {digit}: widths {reader.Width(digit, 0)}, {reader.Width(digit, 1)}, {reader.Width(digit, 2)}");
        }

        var accuracy = reader.Accuracy(images, captions);
        Assert.True(accuracy >= 0.8, $"accuracy on real renders {accuracy}");

        // The same images under captions whose thickness is shuffled among the three renders of each digit: the reader
        // follows the pixels, not the caption, so it agrees with the captions about as often as chance.
        var random = new Random(7);
        var shuffled = new List<(DigitAttributes Attributes, string Caption)>(captions);
        for (var i = 0; i < shuffled.Count; i += 3)
        {
            var order = new[] { 0, 1, 2 }.OrderBy(_ => random.Next()).ToArray();
            for (var k = 0; k < 3; k++)
            {
                shuffled[i + k] = captions[i + order[k]];
            }
        }

        var shuffledAccuracy = reader.Accuracy(images, shuffled);
        Assert.True(shuffledAccuracy < 0.5, $"accuracy with thickness shuffled {shuffledAccuracy}");
    }

    [Fact]
    public void Reader_measures_stroke_width_in_pixels()
    {
        // A vertical bar of width w and length 40 on black at 64×64: 2·area / perimeter = 2·40w / (2·(40 + w)).
        foreach (var w in new[] { 2, 4, 8 })
        {
            var image = Enumerable.Repeat(-1f, 3 * 64 * 64).ToArray();
            for (var y = 12; y < 52; y++)
            {
                for (var x = 30; x < 30 + w; x++)
                {
                    image[(y * 64) + x] = 1f; // red
                }
            }

            Assert.Equal(80.0 * w / (80 + (2 * w)), ThicknessReader.StrokeWidth(image, 64), 6);
        }
    }

    [Fact]
    public void Thickness_captions_state_a_thickness_of_held_out_combinations_and_share_no_caption_and_seed_with_the_selection_sets()
    {
        var thickness = TextToImageEvaluator.ThicknessCaptions(TextToImageEvaluator.DefaultThicknessCaptions);
        var seeds = TextToImageEvaluator.ThicknessSeeds(thickness.Count);
        var selection = TextToImageEvaluator.HeldOutCaptions(1000).Zip(TextToImageEvaluator.Seeds(1000), (c, s) => (c.Caption, s)).ToHashSet();

        Assert.All(thickness, c => Assert.True(c.Attributes.IsHeldOut && c.Attributes.IsValid));
        Assert.All(thickness, c => Assert.Contains(CaptionGrammar.Thicknesses[c.Attributes.Thickness], c.Caption.Split(' ')));
        Assert.DoesNotContain(thickness.Zip(seeds, (c, s) => (c.Caption, s)), selection.Contains);
        Assert.Empty(seeds.Intersect(TextToImageEvaluator.Seeds(1000)));
        Assert.Equal([100, 100, 100], thickness.GroupBy(c => c.Attributes.Thickness).OrderBy(g => g.Key).Select(g => g.Count()));
    }

    [Fact]
    public async Task Some_wrong_captions_differ_only_in_a_stated_thickness_and_none_describes_the_image()
    {
        using var temp = new TempDirectory();
        var (train, _) = await TinyDigitsAsync(temp);
        var batches = new CaptionBatches(train, seed: 11, thicknessNegatives: 0.25);
        var plain = new CaptionBatches(train, seed: 11);
        var random = new Random(5);
        int thicknessOnly = 0, plainThicknessOnly = 0;
        const int draws = 4000;
        for (var i = 0; i < draws; i++)
        {
            var image = CaptionGrammar.RandomTrainingAttributes(random.Next(10), random);
            var (wrong, said, caption) = batches.WrongCaption(image);
            var sameOtherwise = wrong.Digit == image.Digit && wrong.Colour == image.Colour && wrong.Background == image.Background;
            Assert.False(sameOtherwise && (!said || wrong.Thickness == image.Thickness), $"negative '{caption}' describes the image {image}");
            Assert.True(wrong.IsValid && !wrong.IsHeldOut, $"negative {wrong}");
            Assert.Equal(said, caption.Split(' ').Contains(CaptionGrammar.Thicknesses[wrong.Thickness]));
            CaptionGrammar.Tokenize(caption);
            thicknessOnly += sameOtherwise ? 1 : 0;

            var (plainWrong, _, _) = plain.WrongCaption(image);
            plainThicknessOnly += plainWrong.Digit == image.Digit && plainWrong.Colour == image.Colour && plainWrong.Background == image.Background ? 1 : 0;
        }

        // 0.25 of the draws, less the regular images whose thin and thick combinations are both held out.
        Assert.InRange(thicknessOnly / (double)draws, 0.15, 0.3);
        Assert.Equal(0, plainThicknessOnly); // without the option, as the shipped recipe trained
    }

    [Fact]
    public async Task Without_thickness_negatives_the_caption_draws_are_those_of_the_shipped_recipe()
    {
        using var temp = new TempDirectory();
        var (train, _) = await TinyDigitsAsync(temp);
        const ulong seed = 12;
        var indices = Enumerable.Range(0, 100).Select(i => (long)i).ToArray();
        using var batch = new CaptionBatches(train, seed).Next(indices);

        // The draws as CaptionBatches made them before thickness negatives existed: per image its attributes, its
        // caption (CaptionGrammar.RandomCaption), then a mismatch in digit, colour or background and its caption.
        var random = new Random(unchecked((int)seed ^ (int)(seed >> 32)));
        var tokens = new List<long>();
        var wrong = new List<long>();
        foreach (var index in indices)
        {
            var attributes = CaptionGrammar.RandomTrainingAttributes(train.Labels[index], random);
            tokens.AddRange(CaptionGrammar.Tokenize(CaptionGrammar.RandomCaption(attributes, random)));
            DigitAttributes other;
            do
            {
                other = CaptionGrammar.RandomTrainingAttributes(random.Next(10), random);
            }
            while (other.Digit == attributes.Digit && other.Colour == attributes.Colour && other.Background == attributes.Background);
            wrong.AddRange(CaptionGrammar.Tokenize(CaptionGrammar.RandomCaption(other, random)));
        }

        Assert.Equal(tokens, batch.Tokens.data<long>().ToArray());
        Assert.Equal(wrong, batch.WrongTokens.data<long>().ToArray());
    }

    [Fact]
    public async Task Batches_carry_the_image_thickness_and_the_caption_thickness_with_3_for_not_said()
    {
        using var temp = new TempDirectory();
        var (train, _) = await TinyDigitsAsync(temp);
        using var batch = new CaptionBatches(train, seed: 4, thicknessNegatives: 0.5).Next(Enumerable.Range(0, 200).Select(i => (long)i).ToArray());
        var thickness = batch.Thicknesses.data<long>().ToArray();
        var stated = batch.StatedThicknesses.data<long>().ToArray();

        Assert.Equal(200, thickness.Length);
        Assert.All(thickness, t => Assert.InRange(t, 0, 2));
        Assert.All(stated.Zip(thickness), p => Assert.True(p.First == p.Second || p.First == 3, $"stated {p.First}, image {p.Second}"));
        Assert.InRange(stated.Count(s => s == 3), 25, 75); // a quarter of the captions leave it out
        Assert.Equal(3, thickness.Distinct().Count());
    }

    [Fact]
    public void Thickness_head_adds_three_outputs_only_with_the_option()
    {
        var networks = new StackGanArchitecture { WordDimension = 8, EmbeddingDimension = 12, ConditionDimension = 6, LatentDimension = 10, StageOneWidth = 4, DiscriminatorWidth = 4, DiscriminatorBatchNorm = false };
        using var scope = NewDisposeScope();
        var images = randn(5, 3, 32, 32);
        var sentence = randn(5, 12);
        using var plain = new MatchingDiscriminator(networks, CaptionedDigits.SmallSize);
        using var withThickness = new MatchingDiscriminator(networks with { DiscriminatorThickness = true }, CaptionedDigits.SmallSize);
        using var large = new MatchingDiscriminator(networks with { DiscriminatorThickness = true }, CaptionedDigits.LargeSize);

        var (_, plainAttributes) = plain.Forward(images, sentence);
        var (logits, attributes) = withThickness.Forward(images, sentence);
        var (_, largeAttributes) = large.Forward(randn(5, 3, 64, 64), sentence);

        Assert.Null(plainAttributes.Thickness);
        Assert.Equal([5L], logits.shape);
        Assert.Equal([5L, 10], attributes.Digit.shape);
        Assert.Equal([5L, CaptionGrammar.Colours.Count], attributes.Colour.shape);
        Assert.Equal([5L, CaptionGrammar.Backgrounds.Count], attributes.Background.shape);
        Assert.Equal([5L, 3], attributes.Thickness!.shape);
        Assert.Equal([5L, 3], largeAttributes.Thickness!.shape);
        var parameters = (nn.Module m) => m.parameters().Sum(p => p.numel());
        // Width 4 at 32×32: features of 16 channels at 4×4 feed the head; thickness adds 3 rows of weights and 3 biases.
        Assert.Equal(parameters(plain) + (3 * 16 * 16) + 3, parameters(withThickness));
    }

    [Fact]
    public async Task Discriminator_thickness_term_on_real_images_raises_the_image_thickness_even_where_the_caption_leaves_it_out()
    {
        using var temp = new TempDirectory();
        var (train, _) = await TinyDigitsAsync(temp);
        random.manual_seed(3);
        var networks = new StackGanArchitecture { WordDimension = 8, EmbeddingDimension = 12, ConditionDimension = 6, LatentDimension = 10, StageOneWidth = 4, DiscriminatorWidth = 8, DiscriminatorBatchNorm = false, DiscriminatorThickness = true };
        using var discriminator = new MatchingDiscriminator(networks, CaptionedDigits.SmallSize);
        // TorchSharp's default initialisation, not the trainer's DCGAN one (N(0, 0.02) makes the features, and so the
        // head's first steps, tiny): this test is about the direction of the term, not about the recipe.
        using var optimizer = optim.Adam(discriminator.parameters(), 1e-2, 0.5, 0.999);
        using var batch = new CaptionBatches(train, seed: 9).Next(Enumerable.Range(0, 64).Select(i => (long)i).ToArray());
        var unsaid = batch.StatedThicknesses.eq(3);
        Assert.True(unsaid.any().item<bool>());
        (double All, double Unsaid) TrueThicknessProbability()
        {
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var (_, attributes) = discriminator.Forward(batch.Small, zeros(64, 12));
            var p = attributes.Thickness!.softmax(1).gather(1, batch.Thicknesses.unsqueeze(1)).squeeze(1);
            return (p.mean().item<float>(), p.masked_select(unsaid).mean().item<float>());
        }

        var before = TrueThicknessProbability();
        for (var step = 0; step < 20; step++)
        {
            using var scope = NewDisposeScope();
            optimizer.zero_grad();
            var (_, attributes) = discriminator.Forward(batch.Small, zeros(64, 12));
            StackGanTrainer.AttributeLoss(attributes, batch, real: true).backward();
            optimizer.step();
        }

        // D's steps on real images push the head towards the image's own thickness, for every row: a render always
        // has one, whether or not its caption says it (a head trained against the caption's thickness would not move
        // on those rows, and one with the target negated would move away).
        var after = TrueThicknessProbability();
        Assert.True(after.All > before.All + 0.05, $"p(true thickness) {before.All:F3} → {after.All:F3}");
        Assert.True(after.Unsaid > before.Unsaid + 0.05, $"p(true thickness) where not said {before.Unsaid:F3} → {after.Unsaid:F3}");
    }

    [Fact]
    public void Generator_thickness_term_raises_the_stated_class_and_ignores_captions_without_a_thickness()
    {
        using var scope = NewDisposeScope();
        var logits = tensor(new float[] { 0.2f, -0.1f, 0.4f, 1f, 0f, -1f, 0.3f, 0.3f, 0.3f, -0.5f, 0.5f, 0f }, [4, 3]).requires_grad_(true);
        var stated = tensor(new long[] { 2, 3, 0, 3 });

        var loss = ThicknessLoss(logits, stated);
        loss.backward();

        // The value: the mean cross-entropy of the two rows that state a thickness.
        var expected = (nn.functional.cross_entropy(logits.narrow(0, 0, 1), tensor(new long[] { 2 })) + nn.functional.cross_entropy(logits.narrow(0, 2, 1), tensor(new long[] { 0 }))) / 2;
        Assert.Equal(expected.item<float>(), loss.item<float>(), 5);

        // The direction: a descent step (−gradient) raises the stated class's logit above the others; rows that say
        // nothing get no gradient at all.
        var gradient = logits.grad!.data<float>().ToArray();
        Assert.True(gradient[2] < 0 && gradient[0] > 0 && gradient[1] > 0, string.Join(", ", gradient));
        Assert.True(gradient[6] < 0 && gradient[7] > 0 && gradient[8] > 0, string.Join(", ", gradient));
        Assert.All(gradient[3..6].Concat(gradient[9..12]), g => Assert.Equal(0f, g));

        // No caption states a thickness: the term is 0, not NaN.
        Assert.Equal(0f, ThicknessLoss(logits.detach(), tensor(new long[] { 3, 3, 3, 3 })).item<float>());
    }

    [Fact]
    public async Task Thickness_weight_scales_the_thickness_term_alone_and_defaults_to_the_aux_weight()
    {
        using var temp = new TempDirectory();
        var (train, _) = await TinyDigitsAsync(temp);
        using var scope = NewDisposeScope();
        using var batch = new CaptionBatches(train, seed: 5).Next(Enumerable.Range(0, 16).Select(i => (long)i).ToArray());
        random.manual_seed(11);
        var attributes = new AttributeLogits(randn(16, 10), randn(16, CaptionGrammar.Colours.Count), randn(16, CaptionGrammar.Backgrounds.Count), randn(16, 3));
        var rest = (nn.functional.cross_entropy(attributes.Digit, batch.Digits) + nn.functional.cross_entropy(attributes.Colour, batch.Colours)
            + nn.functional.cross_entropy(attributes.Background, batch.Backgrounds)).item<float>();
        var onReal = nn.functional.cross_entropy(attributes.Thickness!, batch.Thicknesses).item<float>();
        var onGenerated = StackGanTrainer.StatedThicknessLoss(attributes.Thickness!, batch.StatedThicknesses).item<float>();

        Assert.Equal((2 * rest) + (0.25 * onReal), StackGanTrainer.AttributeLoss(attributes, batch, real: true, weight: 2, thicknessWeight: 0.25).item<float>(), 4);
        Assert.Equal((2 * rest) + (0.25 * onGenerated), StackGanTrainer.AttributeLoss(attributes, batch, real: false, weight: 2, thicknessWeight: 0.25).item<float>(), 4);
        Assert.Equal(2 * rest, StackGanTrainer.AttributeLoss(attributes, batch, real: true, weight: 2, thicknessWeight: 0).item<float>(), 4);
        Assert.Equal(2 * rest, StackGanTrainer.AttributeLoss(attributes with { Thickness = null }, batch, real: true, weight: 2, thicknessWeight: 5).item<float>(), 4);

        // Without --aux-thickness-weight the thickness term weighs what the others do (the recipes before the option).
        Assert.Equal(2, new StackGanOptions { Stage = 1, AuxiliaryWeight = 2 }.EffectiveThicknessWeight);
        Assert.Equal(0.5, new StackGanOptions { Stage = 1, AuxiliaryWeight = 2, ThicknessWeight = 0.5 }.EffectiveThicknessWeight);
    }

    [Fact]
    public async Task Thickness_weight_without_the_thickness_head_or_below_zero_is_refused_naming_the_options()
    {
        using var temp = new TempDirectory();
        var options = new TrainingOptions { Architecture = new GanArchitecture { Kind = ModelKind.StackGanStageOne }, DataDirectory = temp.Combine("data"), RunDirectory = temp.Combine("run") };
        var networks = SmallStackGan.Trainable;
        var noHead = await Assert.ThrowsAsync<ArgumentException>(() => new StackGanTrainer(options, new StackGanOptions { Stage = 1, AuxiliaryWeight = 1, ThicknessWeight = 0.5, Networks = networks }).RunAsync(new Progress<TrainingProgress>(), CancellationToken.None));
        Assert.Contains("--aux-thickness-weight 0.5", noHead.Message, StringComparison.Ordinal);
        Assert.Contains("give --aux-thickness", noHead.Message, StringComparison.Ordinal);
        var negative = await Assert.ThrowsAsync<ArgumentException>(() => new StackGanTrainer(options, new StackGanOptions { Stage = 1, AuxiliaryWeight = 1, ThicknessWeight = -1, Networks = networks with { DiscriminatorThickness = true } }).RunAsync(new Progress<TrainingProgress>(), CancellationToken.None));
        Assert.Contains("--aux-thickness-weight must be a finite weight of at least 0, got -1", negative.Message, StringComparison.Ordinal);
    }

    private static Tensor ThicknessLoss(Tensor logits, Tensor stated) => StackGanTrainer.StatedThicknessLoss(logits, stated);
}

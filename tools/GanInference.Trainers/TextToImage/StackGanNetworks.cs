using GanInference.Onnx;
using GanInference.Trainers.Export;
using GanInference.Trainers.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GanInference.Trainers.TextToImage;

/// <summary>The sizes of the StackGAN-style networks; stored in checkpoints and manifests.</summary>
public sealed record StackGanArchitecture
{
    public int VocabularySize { get; init; } = CaptionGrammar.Vocabulary.Count;

    public int MaxTokens { get; init; } = CaptionGrammar.MaxTokens;

    public int WordDimension { get; init; } = 32;

    /// <summary>Length of the sentence embedding (the GRU's hidden state).</summary>
    public int EmbeddingDimension { get; init; } = 64;

    /// <summary>Length of the conditioning vector c after Conditioning Augmentation.</summary>
    public int ConditionDimension { get; init; } = 32;

    public int LatentDimension { get; init; } = 64;

    /// <summary>Stage-I generator base width (its first feature maps have 8× this).</summary>
    public int StageOneWidth { get; init; } = 16;

    /// <summary>Stage-II generator base width.</summary>
    public int StageTwoWidth { get; init; } = 32;

    public int DiscriminatorWidth { get; init; } = 32;

    public int ResidualBlocks { get; init; } = 2;

    /// <summary>
    /// Stage-II adds its output to the Stage-I image upsampled (nearest, ×2) and clips to [-1, 1], so it starts as
    /// a copy of Stage-I and learns only the refinement (off in checkpoints written before this existed).
    /// </summary>
    public bool StageTwoResidual { get; init; }

    /// <summary>
    /// Stage-II as the StackGAN paper has it: upsampling by nearest-neighbour ×2 + 3×3 convolution (not transposed
    /// convolutions, whose 4×4 stride-2 kernels paint a 2-pixel checkerboard), BatchNorm in the residual blocks (not
    /// InstanceNorm), and, with <see cref="StageTwoResidual"/>, a bilinear (not nearest) upsampling of Stage-I as the
    /// base the refinement is added to. Off in checkpoints written before this existed.
    /// </summary>
    public bool StageTwoPaper { get; init; }

    /// <summary>
    /// Stage-II's refinement passes through a fixed 3×3 binomial low-pass filter (<see cref="BinomialFilter"/>) before
    /// it is added to the base: the filter's response is zero at the 2-pixel period across, down and diagonally, so
    /// Stage-II cannot paint a pixel checkerboard or column stripe however long it trains (--stage2-antialias).
    /// Off in checkpoints written before this existed.
    /// </summary>
    public bool StageTwoAntiAlias { get; init; }

    /// <summary>Adds a projection term ⟨W·e, mean-pooled features⟩ to the matching logit (Miyato &amp; Koyama).</summary>
    public bool DiscriminatorProjection { get; init; }

    /// <summary>
    /// Stage-II checkpoints on an averaged Stage-I: the truncation at which that Stage-I's BatchNorm statistics were
    /// re-estimated (null: a single snapshot's statistics, or a checkpoint written before re-estimation existed).
    /// </summary>
    public float? StageOneStatisticsTruncation { get; init; }

    /// <summary>BatchNorm in the discriminators (off: convolutions and LeakyReLU only).</summary>
    public bool DiscriminatorBatchNorm { get; init; } = true;

    /// <summary>
    /// The discriminator's auxiliary classifier also reads thickness (3 more outputs: thin, regular, thick; --aux-thickness).
    /// Off in checkpoints written before this existed and in the shipped recipe.
    /// </summary>
    public bool DiscriminatorThickness { get; init; }
}

/// <summary>Image, μ and log σ² of one generator pass (μ and log σ² feed the KL term).</summary>
public sealed record GeneratorPass(Tensor Image, Tensor Mu, Tensor LogVariance) : IDisposable
{
    /// <summary>Stage-II passes: the (frozen) Stage-I image [B, 3, 32, 32] that <see cref="Image"/> refines.</summary>
    public Tensor? StageOneImage { get; init; }

    public void Dispose()
    {
        Image.Dispose();
        Mu.Dispose();
        LogVariance.Dispose();
        StageOneImage?.Dispose();
    }
}

/// <summary>
/// Conditioning Augmentation (StackGAN): a linear map gives μ and log σ² from the sentence embedding;
/// c = μ + σ·ε, with ε an input (so the server derives it from the image's seed).
/// </summary>
public sealed class ConditioningAugmentation : nn.Module<Tensor, Tensor>, IOnnxExportable
{
    private readonly Linear statistics;

    public ConditioningAugmentation(int embeddingDimension, int conditionDimension)
        : base(nameof(ConditioningAugmentation))
    {
        ConditionDimension = conditionDimension;
        statistics = nn.Linear(embeddingDimension, 2 * conditionDimension);
        RegisterComponents();
    }

    public int ConditionDimension { get; }

    /// <summary>[B, 2C]: μ then log σ².</summary>
    public override Tensor forward(Tensor embedding) => statistics.forward(embedding);

    /// <summary>c, μ, log σ² for sentence embeddings and ε.</summary>
    public (Tensor Condition, Tensor Mu, Tensor LogVariance) Sample(Tensor embedding, Tensor epsilon)
    {
        using var scope = NewDisposeScope();
        var both = forward(embedding);
        var mu = both.narrow(1, 0, ConditionDimension);
        var logVariance = both.narrow(1, ConditionDimension, ConditionDimension);
        var condition = mu + ((logVariance * 0.5).exp() * epsilon);
        return (condition.MoveToOuterDisposeScope(), mu.MoveToOuterDisposeScope(), logVariance.MoveToOuterDisposeScope());
    }

    /// <summary>inputs: sentence embedding, ε → c.</summary>
    public string ExportOnnx(OnnxExportContext context, IReadOnlyList<string> inputs)
    {
        var graph = context.Graph;
        var both = context.Export(statistics, "statistics", inputs[0]);
        var axis = context.Constant("axis", 1);
        var mu = graph.Node("Slice", [both, context.Constant("mu_start", 0), context.Constant("mu_end", ConditionDimension), axis]);
        var logVariance = graph.Node("Slice", [both, context.Constant("var_start", ConditionDimension), context.Constant("var_end", 2L * ConditionDimension), axis]);
        var half = graph.Initializer(graph.UniqueName($"{context.CurrentPath}.half"), [0.5f]);
        var sigma = graph.Node("Exp", [graph.Node("Mul", [logVariance, half])]);
        return graph.Node("Add", [mu, graph.Node("Mul", [sigma, inputs[1]])]);
    }
}

/// <summary>Shared by both stages: the sentence embedding of each row, from its tokens or, for rows of padding only, from the embedding input.</summary>
internal static class SentenceEmbedding
{
    public static Tensor Compute(TextEncoder encoder, Tensor tokens, Tensor embedding)
    {
        using var scope = NewDisposeScope();
        var hasText = tokens.sign().amax([1], keepdim: true).to_type(ScalarType.Bool);
        return where(hasText, encoder.forward(tokens), embedding).MoveToOuterDisposeScope();
    }

    /// <summary>Sentence embedding of each row, then Conditioning Augmentation: c, μ, log σ².</summary>
    public static (Tensor Condition, Tensor Mu, Tensor LogVariance) Condition(TextEncoder encoder, ConditioningAugmentation conditioning, Tensor tokens, Tensor embedding, Tensor epsilon)
    {
        using var sentence = Compute(encoder, tokens, embedding);
        return conditioning.Sample(sentence, epsilon);
    }

    /// <summary>ONNX form of <see cref="Condition"/>: the conditioning vector c.</summary>
    public static string ExportCondition(OnnxExportContext context, TextEncoder encoder, ConditioningAugmentation conditioning, string tokens, string embedding, string epsilon) =>
        context.Export(conditioning, "conditioning", Export(context, encoder, tokens, embedding), epsilon);

    /// <summary>where(any(tokens &gt; 0), encoder(tokens), embedding), per row.</summary>
    public static string Export(OnnxExportContext context, TextEncoder encoder, string tokens, string embedding)
    {
        var graph = context.Graph;
        var encoded = context.Export(encoder, "encoder", tokens);
        var zero = graph.Initializer(graph.UniqueName($"{context.CurrentPath}.no_words"), [0]);
        var hasText = graph.Node("Greater", [TextEncoder.WordCounts(context, tokens), zero]);
        return graph.Node("Where", [hasText, encoded, embedding]);
    }

    /// <summary>[B, C] → [B, C, size, size] by repeating each value over the map (Mul by ones broadcasts exactly).</summary>
    public static Tensor Replicate(Tensor condition, int size) =>
        condition.reshape(condition.shape[0], condition.shape[1], 1, 1).expand(-1, -1, size, size);

    public static string ExportReplicate(OnnxExportContext context, string condition, int channels, int size)
    {
        var graph = context.Graph;
        var column = graph.Node("Reshape", [condition, context.Constant("column_shape", -1, channels, 1, 1)]);
        var ones = new float[size * size];
        Array.Fill(ones, 1f);
        return graph.Node("Mul", [column, graph.Initializer(graph.UniqueName($"{context.CurrentPath}.ones"), ones, 1, 1, size, size)]);
    }
}

/// <summary>
/// Stage-I: (tokens | embedding) → sentence embedding → CA → c; [c, z] → 4×4 → 8 → 16 → 32×32 RGB in [-1, 1].
/// ONNX inputs: tokens, embedding, z, ca_noise.
/// </summary>
public sealed class StageOneGenerator : nn.Module, IOnnxExportable
{
    private readonly TextEncoder encoder;
    private readonly ConditioningAugmentation conditioning;
    private readonly Linear project;
    private readonly Sequential body;
    private readonly int width;

    public StageOneGenerator(StackGanArchitecture architecture)
        : base(nameof(StageOneGenerator))
    {
        Architecture = architecture;
        width = architecture.StageOneWidth * 8;
        encoder = new TextEncoder(architecture.VocabularySize, architecture.WordDimension, architecture.EmbeddingDimension);
        conditioning = new ConditioningAugmentation(architecture.EmbeddingDimension, architecture.ConditionDimension);
        project = nn.Linear(architecture.ConditionDimension + architecture.LatentDimension, width * 16, hasBias: false);
        var ngf = architecture.StageOneWidth;
        body = nn.Sequential(
            ("bn4", nn.BatchNorm2d(width)),
            ("relu4", nn.ReLU()),
            ("up8", nn.ConvTranspose2d(ngf * 8, ngf * 4, kernel_size: 4, stride: 2, padding: 1, bias: false)),
            ("bn8", nn.BatchNorm2d(ngf * 4)),
            ("relu8", nn.ReLU()),
            ("up16", nn.ConvTranspose2d(ngf * 4, ngf * 2, kernel_size: 4, stride: 2, padding: 1, bias: false)),
            ("bn16", nn.BatchNorm2d(ngf * 2)),
            ("relu16", nn.ReLU()),
            ("up32", nn.ConvTranspose2d(ngf * 2, ngf, kernel_size: 4, stride: 2, padding: 1, bias: false)),
            ("bn32", nn.BatchNorm2d(ngf)),
            ("relu32", nn.ReLU()),
            ("rgb", nn.Conv2d(ngf, 3, kernel_size: 3, padding: 1)),
            ("tanh", nn.Tanh()));
        RegisterComponents();
    }

    public StackGanArchitecture Architecture { get; }

    /// <summary>The (pre-trained, frozen) text encoder inside this stage.</summary>
    public TextEncoder Encoder => encoder;

    public GeneratorPass Forward(Tensor tokens, Tensor embedding, Tensor z, Tensor epsilon)
    {
        using var scope = NewDisposeScope();
        var (c, mu, logVariance) = SentenceEmbedding.Condition(encoder, conditioning, tokens, embedding, epsilon);
        var h = project.forward(cat([c, z], 1)).reshape(-1, width, 4, 4);
        var image = body.forward(h);
        return new GeneratorPass(image.MoveToOuterDisposeScope(), mu.MoveToOuterDisposeScope(), logVariance.MoveToOuterDisposeScope());
    }

    /// <summary>inputs: tokens, embedding, z, ca_noise → image.</summary>
    public string ExportOnnx(OnnxExportContext context, IReadOnlyList<string> inputs)
    {
        var graph = context.Graph;
        var c = SentenceEmbedding.ExportCondition(context, encoder, conditioning, inputs[0], inputs[1], inputs[3]);
        var joined = graph.Node("Concat", [c, inputs[2]], OnnxAttribute.Int("axis", 1));
        var h = graph.Node("Reshape", [context.Export(project, "project", joined), context.Constant("map_shape", -1, width, 4, 4)]);
        return context.Export(body, "body", h);
    }
}

/// <summary>
/// Stage-II: the Stage-I image → 16×16 features, joined with its own CA's c repeated spatially →
/// residual blocks → 32 → 64×64 RGB in [-1, 1]. ONNX inputs: tokens, embedding, stage1_image, ca_noise.
/// </summary>
public sealed class StageTwoGenerator : nn.Module, IOnnxExportable
{
    private const int JoinSize = 16;
    private readonly TextEncoder encoder;
    private readonly ConditioningAugmentation conditioning;
    private readonly Sequential down;
    private readonly Sequential join;
    private readonly ModuleList<nn.Module<Tensor, Tensor>> blocks;
    private readonly Sequential up;
    private readonly Upsample enlarge = nn.Upsample(scale_factor: [2, 2], mode: UpsampleMode.Nearest);

    public StageTwoGenerator(StackGanArchitecture architecture)
        : base(nameof(StageTwoGenerator))
    {
        Architecture = architecture;
        var ngf = architecture.StageTwoWidth;
        encoder = new TextEncoder(architecture.VocabularySize, architecture.WordDimension, architecture.EmbeddingDimension);
        conditioning = new ConditioningAugmentation(architecture.EmbeddingDimension, architecture.ConditionDimension);
        down = nn.Sequential(
            ("conv32", nn.Conv2d(3, ngf, kernel_size: 3, padding: 1)),
            ("relu32", nn.ReLU()),
            ("down16", nn.Conv2d(ngf, ngf * 2, kernel_size: 4, stride: 2, padding: 1, bias: false)),
            ("bn16", nn.BatchNorm2d(ngf * 2)),
            ("relu16", nn.ReLU()));
        join = nn.Sequential(
            ("conv", nn.Conv2d((ngf * 2) + architecture.ConditionDimension, ngf * 2, kernel_size: 3, padding: 1, bias: false)),
            ("bn", nn.BatchNorm2d(ngf * 2)),
            ("relu", nn.ReLU()));
        blocks = new ModuleList<nn.Module<Tensor, Tensor>>([.. Enumerable.Range(0, architecture.ResidualBlocks)
            .Select(_ => architecture.StageTwoPaper ? (nn.Module<Tensor, Tensor>)new BatchNormResidualBlock(ngf * 2) : new ResidualBlock(ngf * 2))]);
        up = architecture.StageTwoPaper
            ? nn.Sequential(
                ("up32", nn.Upsample(scale_factor: [2, 2], mode: UpsampleMode.Nearest)),
                ("conv32", nn.Conv2d(ngf * 2, ngf, kernel_size: 3, padding: 1, bias: false)),
                ("bn32", nn.BatchNorm2d(ngf)),
                ("relu32", nn.ReLU()),
                ("up64", nn.Upsample(scale_factor: [2, 2], mode: UpsampleMode.Nearest)),
                ("conv64", nn.Conv2d(ngf, ngf / 2, kernel_size: 3, padding: 1, bias: false)),
                ("bn64", nn.BatchNorm2d(ngf / 2)),
                ("relu64", nn.ReLU()),
                ("rgb", nn.Conv2d(ngf / 2, 3, kernel_size: 3, padding: 1)),
                ("tanh", nn.Tanh()))
            : nn.Sequential(
                ("up32", nn.ConvTranspose2d(ngf * 2, ngf, kernel_size: 4, stride: 2, padding: 1, bias: false)),
                ("bn32", nn.BatchNorm2d(ngf)),
                ("relu32", nn.ReLU()),
                ("up64", nn.ConvTranspose2d(ngf, ngf / 2, kernel_size: 4, stride: 2, padding: 1, bias: false)),
                ("bn64", nn.BatchNorm2d(ngf / 2)),
                ("relu64", nn.ReLU()),
                ("rgb", nn.Conv2d(ngf / 2, 3, kernel_size: 3, padding: 1)),
                ("tanh", nn.Tanh()));
        RegisterComponents();
    }

    public StackGanArchitecture Architecture { get; }

    public TextEncoder Encoder => encoder;

    /// <summary>
    /// Zeroes the last convolution, so a residual Stage-II starts as the exact (upsampled) Stage-I image and the
    /// GAN only adds detail; from a random last layer it starts with coloured noise that costs the first epochs.
    /// </summary>
    public void ZeroRefinement()
    {
        using var _ = no_grad();
        var rgb = (Conv2d)up.named_children().Single(child => child.name == "rgb").module;
        rgb.weight!.zero_();
        rgb.bias?.zero_();
    }

    public GeneratorPass Forward(Tensor tokens, Tensor embedding, Tensor stageOneImage, Tensor epsilon)
    {
        using var scope = NewDisposeScope();
        var (c, mu, logVariance) = SentenceEmbedding.Condition(encoder, conditioning, tokens, embedding, epsilon);
        var h = down.forward(stageOneImage);
        h = join.forward(cat([h, SentenceEmbedding.Replicate(c, JoinSize)], 1));
        foreach (var block in blocks)
        {
            h = block.forward(h);
        }

        var image = up.forward(h);
        if (Architecture.StageTwoAntiAlias)
        {
            image = BinomialFilter.Apply(image);
        }

        if (Architecture.StageTwoResidual)
        {
            var baseImage = Architecture.StageTwoPaper
                ? nn.functional.interpolate(stageOneImage, scale_factor: [2, 2], mode: InterpolationMode.Bilinear, align_corners: false)
                : enlarge.forward(stageOneImage);
            image = (baseImage + image).clamp(-1, 1);
        }

        return new GeneratorPass(image.MoveToOuterDisposeScope(), mu.MoveToOuterDisposeScope(), logVariance.MoveToOuterDisposeScope());
    }

    /// <summary>×2 bilinear as TorchSharp's interpolate with align_corners = false: ONNX Resize, linear, half_pixel.</summary>
    private static string ExportBilinear(OnnxExportContext context, string input)
    {
        var graph = context.Graph;
        var scales = graph.Initializer(graph.UniqueName($"{context.CurrentPath}.bilinear_scales"), [1f, 1f, 2f, 2f], 4);
        return graph.Node("Resize", [input, string.Empty, scales], OnnxAttribute.String("mode", "linear"), OnnxAttribute.String("coordinate_transformation_mode", "half_pixel"));
    }

    /// <summary>inputs: tokens, embedding, stage1_image, ca_noise → image.</summary>
    public string ExportOnnx(OnnxExportContext context, IReadOnlyList<string> inputs)
    {
        var graph = context.Graph;
        var c = SentenceEmbedding.ExportCondition(context, encoder, conditioning, inputs[0], inputs[1], inputs[3]);
        var h = context.Export(down, "down", inputs[2]);
        var replicated = SentenceEmbedding.ExportReplicate(context, c, Architecture.ConditionDimension, JoinSize);
        h = context.Export(join, "join", graph.Node("Concat", [h, replicated], OnnxAttribute.Int("axis", 1)));
        for (var i = 0; i < blocks.Count; i++)
        {
            h = context.Export(blocks[i], $"blocks.{i}", h);
        }

        var refinement = context.Export(up, "up", h);
        if (Architecture.StageTwoAntiAlias)
        {
            refinement = BinomialFilter.Export(context, refinement);
        }

        if (!Architecture.StageTwoResidual)
        {
            return refinement;
        }

        var enlarged = Architecture.StageTwoPaper ? ExportBilinear(context, inputs[2]) : context.Export(enlarge, "enlarge", inputs[2]);
        var low = graph.Initializer(graph.UniqueName($"{context.CurrentPath}.clip_min"), [-1f]);
        var high = graph.Initializer(graph.UniqueName($"{context.CurrentPath}.clip_max"), [1f]);
        return graph.Node("Clip", [graph.Node("Add", [enlarged, refinement]), low, high]);
    }
}

/// <summary>
/// The fixed 3×3 binomial filter [1 2 1]ᵀ[1 2 1] / 16 on each RGB channel, with reflection padding: the anti-aliasing
/// filter of Zhang (2019) and StyleGAN2. Its frequency response cos²(ωx/2)·cos²(ωy/2) is zero wherever either period
/// is 2 pixels, and reflection keeps that true at the border (a padded ±1 alternation stays an alternation), so a
/// pixel checkerboard or a 2-pixel column stripe comes out as exactly 0 while flat areas and ramps pass unchanged.
/// </summary>
public static class BinomialFilter
{
    private const int Channels = 3;
    private static readonly float[] Kernel = [.. Enumerable.Range(0, Channels).SelectMany(_ => Taps())];

    /// <summary>Filters an RGB batch [B, 3, H, W].</summary>
    public static Tensor Apply(Tensor image)
    {
        using var scope = NewDisposeScope();
        using var weight = tensor(Kernel, [Channels, 1, 3, 3], dtype: image.dtype, device: image.device);
        var padded = nn.functional.pad(image, [1, 1, 1, 1], PaddingModes.Reflect);
        return nn.functional.conv2d(padded, weight, groups: Channels).MoveToOuterDisposeScope();
    }

    /// <summary>The same as ONNX: Pad(reflect) then a grouped Conv over a constant kernel.</summary>
    public static string Export(OnnxExportContext context, string input)
    {
        var graph = context.Graph;
        var padded = graph.Node("Pad", [input, context.Constant("binomial_pads", 0, 0, 1, 1, 0, 0, 1, 1)], OnnxAttribute.String("mode", "reflect"));
        var weight = graph.Initializer(graph.UniqueName($"{context.CurrentPath}.binomial_kernel"), Kernel, Channels, 1, 3, 3);
        return graph.Node("Conv", [padded, weight], OnnxAttribute.Int("group", Channels), OnnxAttribute.Ints("kernel_shape", 3, 3));
    }

    private static IEnumerable<float> Taps()
    {
        float[] row = [1, 2, 1];
        return row.SelectMany(y => row.Select(x => x * y / 16f));
    }
}

/// <summary>The StackGAN paper's residual block: x + BN(conv3×3(ReLU(BN(conv3×3(x))))), zero padding.</summary>
public sealed class BatchNormResidualBlock : nn.Module<Tensor, Tensor>, IOnnxExportable
{
    private readonly Sequential body;

    public BatchNormResidualBlock(long channels)
        : base(nameof(BatchNormResidualBlock))
    {
        body = nn.Sequential(
            ("conv1", nn.Conv2d(channels, channels, kernel_size: 3, padding: 1, bias: false)),
            ("norm1", nn.BatchNorm2d(channels)),
            ("act", nn.ReLU()),
            ("conv2", nn.Conv2d(channels, channels, kernel_size: 3, padding: 1, bias: false)),
            ("norm2", nn.BatchNorm2d(channels)));
        RegisterComponents();
    }

    public override Tensor forward(Tensor input) => input + body.forward(input);

    public string ExportOnnx(OnnxExportContext context, IReadOnlyList<string> inputs) =>
        context.Graph.Node("Add", [inputs[0], context.Export(body, "body", inputs[0])]);
}

/// <summary>
/// Logits of the discriminator's auxiliary attribute classifier (AC-GAN): digit [B, 10], colour [B, 7], background [B, 3],
/// and with <see cref="StackGanArchitecture.DiscriminatorThickness"/> thickness [B, 3] (null without).
/// </summary>
public sealed record AttributeLogits(Tensor Digit, Tensor Colour, Tensor Background, Tensor? Thickness = null);

/// <summary>
/// Matching-aware discriminator (StackGAN): image → 4×4 features, joined with the compressed sentence
/// embedding repeated spatially → one real-and-matching logit; plus an auxiliary classifier of digit,
/// stroke colour and background (and with --aux-thickness thickness) on the image features alone (AC-GAN), used
/// only when training gives it a weight (--aux-weight).
/// </summary>
public sealed class MatchingDiscriminator : nn.Module
{
    private const int CompressedDimension = 32;
    private static readonly int AttributeClasses = 10 + CaptionGrammar.Colours.Count + CaptionGrammar.Backgrounds.Count;
    private readonly bool thickness;
    private readonly Sequential features;
    private readonly Sequential compress;
    private readonly Sequential joint;
    private readonly Linear attributeHead;
    private readonly Linear? projection;
    private readonly long featureChannels;

    public MatchingDiscriminator(StackGanArchitecture architecture, int imageSize)
        : base(nameof(MatchingDiscriminator))
    {
        var ndf = architecture.DiscriminatorWidth;
        var layers = new List<(string, nn.Module<Tensor, Tensor>)>
        {
            ("down0", nn.Conv2d(3, ndf, kernel_size: 4, stride: 2, padding: 1)),
            ("lrelu0", nn.LeakyReLU(0.2)),
        };
        var channels = ndf;
        for (var size = imageSize / 2; size > 4; size /= 2)
        {
            layers.Add(($"down{size}", nn.Conv2d(channels, channels * 2, kernel_size: 4, stride: 2, padding: 1, bias: false)));
            if (architecture.DiscriminatorBatchNorm)
            {
                layers.Add(($"bn{size}", nn.BatchNorm2d(channels * 2)));
            }

            layers.Add(($"lrelu{size}", nn.LeakyReLU(0.2)));
            channels *= 2;
        }

        featureChannels = channels;
        features = nn.Sequential(layers);
        compress = nn.Sequential(("linear", nn.Linear(architecture.EmbeddingDimension, CompressedDimension)), ("lrelu", nn.LeakyReLU(0.2)));
        joint = architecture.DiscriminatorBatchNorm
            ? nn.Sequential(
                ("conv", nn.Conv2d(channels + CompressedDimension, channels, kernel_size: 1, bias: false)),
                ("bn", nn.BatchNorm2d(channels)),
                ("lrelu", nn.LeakyReLU(0.2)),
                ("logit", nn.Conv2d(channels, 1, kernel_size: 4)))
            : nn.Sequential(
                ("conv", nn.Conv2d(channels + CompressedDimension, channels, kernel_size: 1)),
                ("lrelu", nn.LeakyReLU(0.2)),
                ("logit", nn.Conv2d(channels, 1, kernel_size: 4)));
        thickness = architecture.DiscriminatorThickness;
        attributeHead = nn.Linear(channels * 16, AttributeClasses + (thickness ? CaptionGrammar.Thicknesses.Count : 0));
        if (architecture.DiscriminatorProjection)
        {
            projection = nn.Linear(architecture.EmbeddingDimension, channels, hasBias: false);
            using (no_grad())
            {
                nn.init.normal_(projection.weight, 0, 0.02);
            }
        }

        RegisterComponents();
    }

    /// <summary>Real-and-matching logits [B] and the attribute classifier's logits.</summary>
    public (Tensor Logits, AttributeLogits Attributes) Forward(Tensor images, Tensor sentence)
    {
        using var scope = NewDisposeScope();
        var h = features.forward(images);
        var text = SentenceEmbedding.Replicate(compress.forward(sentence), 4);
        var logits = joint.forward(cat([h, text], 1)).reshape(-1);
        if (projection is not null)
        {
            logits = logits + (projection.forward(sentence) * h.mean([2, 3])).sum(1);
        }

        var attributes = attributeHead.forward(h.reshape(-1, featureChannels * 16));
        var colours = CaptionGrammar.Colours.Count;
        return (logits.MoveToOuterDisposeScope(), new AttributeLogits(
            attributes.narrow(1, 0, 10).MoveToOuterDisposeScope(),
            attributes.narrow(1, 10, colours).MoveToOuterDisposeScope(),
            attributes.narrow(1, 10 + colours, CaptionGrammar.Backgrounds.Count).MoveToOuterDisposeScope(),
            thickness ? attributes.narrow(1, AttributeClasses, CaptionGrammar.Thicknesses.Count).MoveToOuterDisposeScope() : null));
    }
}

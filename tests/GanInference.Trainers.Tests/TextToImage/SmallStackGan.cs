using GanInference.Trainers.TextToImage;
using static TorchSharp.torch;

namespace GanInference.Trainers.Tests.TextToImage;

/// <summary>What the StackGAN parity, import and Fréchet tests share: networks small enough to run in milliseconds, and
/// caption token rows of every length.</summary>
internal static class SmallStackGan
{
    /// <summary>Both stages, one residual block, every width a few channels.</summary>
    public static readonly StackGanArchitecture Networks = new() { WordDimension = 8, EmbeddingDimension = 12, ConditionDimension = 6, LatentDimension = 10, StageOneWidth = 4, StageTwoWidth = 8, ResidualBlocks = 1 };

    /// <summary>The same with a wider Stage-I and a small discriminator: what the training tests train for a step or an epoch.</summary>
    public static readonly StackGanArchitecture Trainable = Networks with { StageOneWidth = 8, DiscriminatorWidth = 4 };

    /// <summary>Rows of different lengths (1 word to the full 16), left-aligned, padded with 0; the same rows for the same batch.</summary>
    public static Tensor Tokens(int batch)
    {
        var rows = new long[batch * CaptionGrammar.MaxTokens];
        var random = new Random(batch);
        for (var i = 0; i < batch; i++)
        {
            var words = i == 0 ? CaptionGrammar.MaxTokens : 1 + random.Next(CaptionGrammar.MaxTokens);
            for (var t = 0; t < words; t++)
            {
                rows[(i * CaptionGrammar.MaxTokens) + t] = 1 + random.Next(CaptionGrammar.Vocabulary.Count - 1);
            }
        }

        return tensor(rows, [batch, CaptionGrammar.MaxTokens]);
    }
}

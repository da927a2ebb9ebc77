using GanInference.Trainers.Data;

namespace GanInference.Trainers.Evaluation;

/// <summary>
/// Judges an exported image-to-image model through ONNX Runtime on held-out MNIST test digits:
/// Pix2Pix on the outlines of test digits 0..n−1; CycleGAN A→B on test digits 0..n−1, B→A on the
/// ink renderings of test digits N/2..N/2+n−1 of the N test digits (so the two directions never share a digit). Outputs are
/// read as grey digits (domain B through <see cref="InkDigits.InkWeight"/>), area-downsized to
/// 28×28 and classified by the exported MNIST classifier.
/// </summary>
public sealed class ImageToImageEvaluator(string classifierPath, string dataDirectory)
{
    private const float BackgroundBelow = 0.1f;
    private const float StrokeAbove = 0.7f;
    private static readonly int Area = DigitImaging.Size * DigitImaging.Size;

    public async Task<ImageToImageReport> EvaluateAsync(OnnxTranslatorSession model, OnnxTranslatorSession? reverse, int count, CancellationToken cancellationToken)
    {
        var test = await MnistDataset.LoadAsync(dataDirectory, MnistSplit.Test, cancellationToken).ConfigureAwait(false);
        if (count < 10 || 2 * count > test.Count)
        {
            throw new ArgumentOutOfRangeException(nameof(count), count, $"--samples must be between 10 and {test.Count / 2} (half the {test.Count} test digits).");
        }

        if (reverse is not null && reverse.Task == model.Task)
        {
            throw new ArgumentException($"the reverse model translates {TranslationTasks.Name(reverse.Task)}, the same direction as the model.", nameof(reverse));
        }

        var (source, target) = HeldOutPairs(test, model.Task, count);
        CheckChannels(model, source, target);

        var input = source.ToModelRange();
        var output = ToUnit(model.Translate(input, cancellationToken));
        // The grey digit that decides background and stroke pixels: the source for A→B, else the target.
        var digits = model.Task == TranslationTask.DigitsAToB ? source : target;
        using var classifier = new OnnxClassifierSession(classifierPath);
        var recognised = Recognised(classifier, AsGreyDigits(output, target.Channels), source.Labels, cancellationToken);
        var reference = Recognised(classifier, AsGreyDigits(target.Pixels, target.Channels), source.Labels, cancellationToken);

        double? cycle = null;
        if (reverse is not null)
        {
            var back = ToUnit(reverse.Translate(model.Translate(input, cancellationToken), cancellationToken));
            cycle = MeanAbsoluteDifference(back, source.Pixels);
        }

        return new ImageToImageReport
        {
            Task = TranslationTasks.Name(model.Task),
            SampleCount = count,
            RecognitionRate = recognised,
            ReferenceRecognitionRate = reference,
            MeanL1ToTarget = MeanAbsoluteDifference(output, target.Pixels),
            BackgroundColor = MeanColour(output, target.Channels, digits, d => d < BackgroundBelow),
            StrokeColor = MeanColour(output, target.Channels, digits, d => d > StrokeAbove),
            TargetBackgroundColor = MeanColour(target.Pixels, target.Channels, digits, d => d < BackgroundBelow),
            TargetStrokeColor = MeanColour(target.Pixels, target.Channels, digits, d => d > StrokeAbove),
            CycleL1 = cycle,
        };
    }

    /// <summary>True when the ONNX file has the image-to-image input (<c>input</c>) rather than a latent.</summary>
    public static bool IsImageToImageModel(string modelPath)
    {
        if (!File.Exists(modelPath))
        {
            throw new FileNotFoundException($"{modelPath}: model not found.", modelPath);
        }

        using var session = new Microsoft.ML.OnnxRuntime.InferenceSession(modelPath);
        return session.InputMetadata.ContainsKey(Export.ImageToImageExporter.ImageInput);
    }

    /// <summary>
    /// Model inputs and the true outputs for the first <paramref name="count"/> held-out digits of a
    /// task: test digits 0.. for Pix2Pix and A→B, test digits N/2.. for B→A.
    /// </summary>
    public static (ImageSet Source, ImageSet Target) HeldOutPairs(MnistDataset test, TranslationTask task, int count)
    {
        var half = test.Count / 2;
        return task switch
        {
            TranslationTask.OutlineToDigit => OutlineDigits.Create(test, 0, count),
            TranslationTask.DigitsAToB => (InkDigits.DomainA(test, 0, count), InkDigits.DomainB(test, 0, count)),
            _ => (InkDigits.DomainB(test, half, count), InkDigits.DomainA(test, half, count)),
        };
    }

    /// <summary>[-1, 1] → [0, 1].</summary>
    public static float[] ToUnit(float[] values) => Array.ConvertAll(values, v => (v + 1f) / 2f);

    private static void CheckChannels(OnnxTranslatorSession model, ImageSet source, ImageSet target)
    {
        if (model.InputChannels != source.Channels || model.OutputChannels != target.Channels)
        {
            throw new InvalidDataException($"a {TranslationTasks.Name(model.Task)} model must map {source.Channels} to {target.Channels} channels, this one maps {model.InputChannels} to {model.OutputChannels}.");
        }
    }

    /// <summary>Images in [0, 1] as grey digits (white on black): RGB through the ink weight, grey as is.</summary>
    private static float[] AsGreyDigits(float[] images, int channels)
    {
        if (channels == 1)
        {
            return images;
        }

        var count = images.Length / (channels * Area);
        var grey = new float[count * Area];
        for (var i = 0; i < count; i++)
        {
            InkDigits.InkWeight(images.AsSpan(i * channels * Area, channels * Area), grey.AsSpan(i * Area, Area));
        }

        return grey;
    }

    /// <summary>Share of 64×64 grey digits the classifier assigns to their label.</summary>
    private static double Recognised(OnnxClassifierSession classifier, float[] grey, byte[] labels, CancellationToken cancellationToken)
    {
        const int side = MnistDataset.ImageSize;
        var small = new float[labels.Length * side * side];
        for (var i = 0; i < labels.Length; i++)
        {
            var destination = small.AsSpan(i * side * side, side * side);
            DigitImaging.ResizeArea(grey.AsSpan(i * Area, Area), DigitImaging.Size, destination, side);
            foreach (ref var value in destination)
            {
                value = (value * 2f) - 1f;
            }
        }

        var (predictions, _) = classifier.Classify(small, cancellationToken);
        return predictions.Where((p, i) => p == labels[i]).Count() / (double)labels.Length;
    }

    private static double MeanAbsoluteDifference(float[] a, float[] b)
    {
        var sum = 0.0;
        for (var i = 0; i < a.Length; i++)
        {
            sum += Math.Abs(a[i] - b[i]);
        }

        return sum / a.Length;
    }

    /// <summary>Mean colour (0–255 per channel) over the pixels whose grey source digit passes <paramref name="select"/>.</summary>
    private static double[] MeanColour(float[] images, int channels, ImageSet digits, Func<float, bool> select)
    {
        var sums = new double[channels];
        long pixels = 0;
        for (var i = 0; i < digits.Count; i++)
        {
            var digit = digits.Image(i);
            for (var p = 0; p < Area; p++)
            {
                if (!select(digit[p]))
                {
                    continue;
                }

                pixels++;
                for (var c = 0; c < channels; c++)
                {
                    sums[c] += images[(((i * channels) + c) * Area) + p];
                }
            }
        }

        return sums.Select(s => Math.Round(255 * s / Math.Max(pixels, 1), 1)).ToArray();
    }
}

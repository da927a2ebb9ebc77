namespace GanInference.Trainers.Evaluation;

/// <summary>The data transform an image-to-image model was trained on (stored in its ONNX metadata).</summary>
public enum TranslationTask
{
    /// <summary>Pix2Pix: 3×3 outline of a digit → the digit.</summary>
    OutlineToDigit,

    /// <summary>CycleGAN: grey digit (domain A) → ink on paper (domain B).</summary>
    DigitsAToB,

    /// <summary>CycleGAN: ink on paper (domain B) → grey digit (domain A).</summary>
    DigitsBToA,
}

public static class TranslationTasks
{
    public static string Name(TranslationTask task) => task switch
    {
        TranslationTask.OutlineToDigit => "outline2digit",
        TranslationTask.DigitsAToB => "digits-a2b",
        TranslationTask.DigitsBToA => "digits-b2a",
        _ => throw new ArgumentOutOfRangeException(nameof(task), task, null),
    };

    public static bool TryParse(string? name, out TranslationTask task)
    {
        foreach (var candidate in Enum.GetValues<TranslationTask>())
        {
            if (Name(candidate) == name)
            {
                task = candidate;
                return true;
            }
        }

        task = default;
        return false;
    }
}

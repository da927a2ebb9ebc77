namespace GanInference.Trainers.Tests;

/// <summary>Where the tests that check shipped files find them: the repository's <c>models/</c> and <c>eval/</c>, and the
/// committed copy of the MNIST digits the exports read (<c>Data/mnist/README.md</c>).</summary>
internal static class ShippedFiles
{
    private static readonly Lazy<string> RootFolder = new(FindRoot);

    /// <summary>The repository root: the first folder above the test binaries that holds <c>GanInference.sln</c>.</summary>
    public static string Root => RootFolder.Value;

    /// <summary>A shipped model's folder, <c>models/NAME</c>.</summary>
    public static string Model(string name) => Path.Combine(Root, "models", name);

    /// <summary>The shipped evaluation classifier, <c>eval/mnist-classifier/model.onnx</c>.</summary>
    public static string Classifier => Path.Combine(Root, "eval", "mnist-classifier", "model.onnx");

    /// <summary>
    /// The MNIST folder the exports' evaluations read, 9,000 training and 1,000 test digits (a byte-for-byte copy of
    /// <c>../shared/data/mnist</c>, copied next to the test binaries).
    /// </summary>
    public static string Mnist => Path.Combine(AppContext.BaseDirectory, "Data", "mnist");

    private static string FindRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "GanInference.sln")))
            {
                return directory.FullName;
            }
        }

        throw new DirectoryNotFoundException($"no GanInference.sln above {AppContext.BaseDirectory}");
    }
}

using System.Globalization;
using GanInference.Onnx.Benchmarks;

// Usage: make-bench-models OUTDIR
// Writes OUTDIR/<name>/{model.onnx,gan.json} for every model of BenchmarkModels.Standard(), replacing what is there.
if (args.Length != 1 || args[0].StartsWith('-'))
{
    Console.Error.WriteLine("usage: make-bench-models OUTDIR   (see tools/bench/make-models.sh)");
    return 2;
}

var root = Path.GetFullPath(args[0]);
Directory.CreateDirectory(root);
foreach (var model in BenchmarkModels.Standard())
{
    var folder = model.WriteTo(root);
    Console.WriteLine(string.Create(
        CultureInfo.InvariantCulture,
        $"{folder}: {model.Onnx.Length / 1e6:F1} MB, {model.MultiplyAddsPerImage / 1e6:F0} M multiply-adds per image"));
}

return 0;

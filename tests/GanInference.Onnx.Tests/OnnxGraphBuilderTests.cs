using System.Diagnostics;
using GanInference.Onnx.Proto;
using Microsoft.ML.OnnxRuntime;

namespace GanInference.Onnx.Tests;

public sealed class OnnxGraphBuilderTests
{
    // y = tanh(x·W + b), reshaped to [batch, 1, 2, 2]: the shape of a tiny generator.
    private static byte[] TinyGenerator(float[] weights, float[] bias)
    {
        var g = new OnnxGraphBuilder("tiny");
        var z = g.Input("z", OnnxType.Float, Dim.Batch, 3);
        var w = g.Initializer("w", weights, 3, 4);
        var b = g.Initializer("b", bias, 4);
        var shape = g.Initializer("shape", [-1L, 1, 2, 2], 4);
        var h = g.Node("Gemm", [z, w, b]);
        var t = g.Node("Tanh", [h]);
        g.Node("Reshape", [t, shape], "image");
        g.Output("image", OnnxType.Float, Dim.Batch, 1, 2, 2);
        return g.ToBytes();
    }

    [Fact]
    public void Model_declares_opset_17_and_ir_version_8()
    {
        var model = ModelProto.Parser.ParseFrom(TinyGenerator(new float[12], new float[4]));

        Assert.Equal(8, model.IrVersion);
        var opset = Assert.Single(model.OpsetImport);
        Assert.Equal(string.Empty, opset.Domain);
        Assert.Equal(17, opset.Version);
        Assert.Equal("batch", model.Graph.Input[0].Type.TensorType.Shape.Dim[0].DimParam);
        Assert.Equal(3, model.Graph.Input[0].Type.TensorType.Shape.Dim[1].DimValue);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(5)]
    public void OnnxRuntime_computes_what_the_graph_says_for_any_batch(int batch)
    {
        var rng = new Random(7);
        var weights = Enumerable.Range(0, 12).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray();
        var bias = new[] { 0.1f, -0.2f, 0.3f, -0.4f };
        var input = Enumerable.Range(0, batch * 3).Select(_ => (float)rng.NextDouble() * 2 - 1).ToArray();

        var output = OrtRunner.RunFloat(TinyGenerator(weights, bias), "z", input, [batch, 3], "image");

        Assert.Equal(batch * 4, output.Length);
        for (var n = 0; n < batch; n++)
        {
            for (var j = 0; j < 4; j++)
            {
                double sum = bias[j];
                for (var k = 0; k < 3; k++)
                {
                    sum += input[(n * 3) + k] * weights[(k * 4) + j];
                }

                Assert.Equal(Math.Tanh(sum), output[(n * 4) + j], 5);
            }
        }
    }

    [Fact]
    public void Attributes_reach_the_runtime()
    {
        // LeakyRelu's alpha and Transpose's perm exercise float and ints attributes.
        var g = new OnnxGraphBuilder();
        var x = g.Input("x", OnnxType.Float, Dim.Batch, 2);
        var leaky = g.Node("LeakyRelu", [x], OnnxAttribute.Float("alpha", 0.2f));
        g.Node("Transpose", [leaky], "y", OnnxAttribute.Ints("perm", 1, 0));
        g.Output("y", OnnxType.Float, 2, Dim.Batch);

        var y = OrtRunner.RunFloat(g.ToBytes(), "x", [-1f, 2f, 3f, -4f], [2, 2], "y");

        Assert.Equal(new[] { -0.2f, 3f, 2f, -0.8f }, y, new ToleranceComparer(1e-6f));
    }

    [Fact]
    public void Int64_inputs_and_Gather_work_for_embeddings()
    {
        var g = new OnnxGraphBuilder();
        var label = g.Input("label", OnnxType.Int64, Dim.Batch);
        var table = g.Initializer("table", [0f, 1f, 10f, 11f, 20f, 21f], 3, 2);
        g.Node("Gather", [table, label], "emb", OnnxAttribute.Int("axis", 0));
        g.Output("emb", OnnxType.Float, Dim.Batch, 2);

        using var labels = OrtValue.CreateTensorValueFromMemory(new long[] { 2, 0 }, [2]);
        var (values, shape) = OrtRunner.Run(g.ToBytes(), new Dictionary<string, OrtValue> { ["label"] = labels }, "emb");

        Assert.Equal(new long[] { 2, 2 }, shape);
        Assert.Equal(new[] { 20f, 21f, 0f, 1f }, values);
    }

    [Fact]
    public void Reading_an_undefined_value_is_an_error_naming_it()
    {
        var g = new OnnxGraphBuilder();
        g.Input("x", OnnxType.Float, Dim.Batch, 2);

        var error = Assert.Throws<ArgumentException>(() => g.Node("Relu", ["nope"]));

        Assert.Contains("'nope'", error.Message, StringComparison.Ordinal);
        Assert.Contains("Relu", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Defining_a_name_twice_is_an_error()
    {
        var g = new OnnxGraphBuilder();
        g.Input("x", OnnxType.Float, 2);

        var error = Assert.Throws<ArgumentException>(() => g.Initializer("x", [1f, 2f], 2));

        Assert.Contains("'x'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_output_no_node_produces_is_an_error()
    {
        var g = new OnnxGraphBuilder();
        var x = g.Input("x", OnnxType.Float, 2);
        g.Node("Relu", [x]);
        g.Output("y", OnnxType.Float, 2);

        var error = Assert.Throws<InvalidOperationException>(() => g.ToModel());

        Assert.Contains("'y'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Initializer_with_the_wrong_number_of_values_is_an_error()
    {
        var g = new OnnxGraphBuilder();

        var error = Assert.Throws<ArgumentException>(() => g.Initializer("w", [1f, 2f, 3f], 2, 2));

        Assert.Contains("4 values but 3", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Unique_names_never_collide_with_defined_values()
    {
        var g = new OnnxGraphBuilder();
        var x = g.Input("relu", OnnxType.Float, 2);
        var a = g.Node("Relu", [x]);
        var outs = g.NodeMulti("Split", [a], 2, OnnxAttribute.Int("axis", 0), OnnxAttribute.Int("num_outputs", 2));

        Assert.NotEqual("relu", a);
        Assert.Equal(3, new[] { a, outs[0], outs[1] }.Distinct().Count());
    }

    [Fact]
    public void Metadata_and_producer_are_written()
    {
        var g = new OnnxGraphBuilder();
        var x = g.Input("x", OnnxType.Float, 1);
        g.Node("Identity", [x], "y");
        g.Output("y", OnnxType.Float, 1);

        var model = g.ToModel("tests", "9", new Dictionary<string, string> { ["b"] = "2", ["a"] = "1" });

        Assert.Equal("tests", model.ProducerName);
        Assert.Equal(["a", "b"], model.MetadataProps.Select(p => p.Key));
    }

    [Fact]
    public void Written_models_pass_the_reference_onnx_checker()
    {
        // The reference implementation's full check (shape inference included), from Debian's
        // python3-onnx, which .ci/run installs: our bytes must be ordinary ONNX, not just ORT-loadable.
        var path = Path.Combine(Path.GetTempPath(), $"gan-onnx-check-{Guid.NewGuid():N}.onnx");
        File.WriteAllBytes(path, TinyGenerator(new float[12], new float[4]));
        try
        {
            var (exitCode, output) = OnnxChecker.Check(path);
            Assert.True(exitCode == 0, output);
        }
        finally
        {
            File.Delete(path);
        }
    }

    private sealed class ToleranceComparer(float tolerance) : IEqualityComparer<float>
    {
        public bool Equals(float x, float y) => Math.Abs(x - y) <= tolerance;

        public int GetHashCode(float obj) => 0;
    }
}

/// <summary>Runs <c>onnx.checker.check_model(full_check=True)</c> of the system's python3-onnx.</summary>
internal static class OnnxChecker
{
    public static (int ExitCode, string Output) Check(string path)
    {
        var python = File.Exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
        var psi = new ProcessStartInfo(python)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add("import sys, onnx; m = onnx.load(sys.argv[1]); onnx.checker.check_model(m, full_check=True); print('ok')");
        psi.ArgumentList.Add(path);
        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, stdout.Result + stderr + (process.ExitCode != 0 ? "\n(needs Debian's python3-onnx: apt-get install python3-onnx)" : string.Empty));
    }
}

using System.Globalization;
using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace GanInference.Trainers.Training;

/// <summary>
/// libtorch's oneDNN (MKLDNN) CPU kernels: a switch, and a check that they compute what ATen's reference kernels do.
/// On some x86 machines (an AMD EPYC with AVX-512 among this project's VMs) oneDNN's AVX, AVX2 and AVX-512 convolution
/// kernels return wrong values, and training on them gives wrong gradients and NaN losses without any error
/// (docs/training.md, "Wrong numbers from oneDNN"). TorchSharp has no binding for <c>torch.backends.mkldnn.enabled</c>,
/// so the switch calls ATen's own <c>at::Context</c> setter in libtorch_cpu.
/// </summary>
internal static partial class OneDnn
{
    /// <summary>Largest difference between the two kernels, relative to the largest output, that counts as agreement.</summary>
    /// <remarks>Float32 reorderings differ by about 1e-6; the wrong kernels were off by 0.27 to 1.04 (docs/training.md).</remarks>
    public const double Tolerance = 1e-4;

    private const string LibTorchCpu = "libtorch_cpu.so";

    // One comparison per process: the kernels oneDNN picks are fixed once libtorch has read DNNL_MAX_CPU_ISA at load,
    // and every trainer start, export and evaluation in the process asks again (the test host starts dozens).
    private static readonly Lazy<(string Layer, double Difference)> Verdict = new(Compare);

    // Itanium C++ ABI names of at::globalContext(), at::Context::setUserEnabledMkldnn(bool) and
    // at::Context::userEnabledMkldnn() const. A member function takes `this` as its first argument.
    [LibraryImport(LibTorchCpu, EntryPoint = "_ZN2at13globalContextEv")]
    private static partial IntPtr GlobalContext();

    [LibraryImport(LibTorchCpu, EntryPoint = "_ZN2at7Context20setUserEnabledMkldnnEb")]
    private static partial void SetUserEnabledMkldnn(IntPtr context, [MarshalAs(UnmanagedType.U1)] bool enabled);

    [LibraryImport(LibTorchCpu, EntryPoint = "_ZNK2at7Context17userEnabledMkldnnEv")]
    [return: MarshalAs(UnmanagedType.U1)]
    private static partial bool UserEnabledMkldnn(IntPtr context);

    /// <summary>Whether libtorch may use oneDNN kernels (it does by default).</summary>
    public static bool Enabled
    {
        get
        {
            EnsureLoaded();
            return UserEnabledMkldnn(GlobalContext());
        }
        set
        {
            EnsureLoaded();
            SetUserEnabledMkldnn(GlobalContext(), value);
        }
    }

    /// <summary>
    /// Runs six small convolutions of the shapes our networks use (<see cref="Probes"/>) with oneDNN and with ATen's
    /// reference kernels, and returns the worst disagreement found, relative to the largest output. Leaves libtorch's
    /// global random generator and the oneDNN switch as it found them.
    /// </summary>
    public static (string Layer, double Difference) Compare()
    {
        // Creating a layer draws its initial weights from libtorch's global generator: put its state back afterwards.
        using var globalState = random.get_rng_state();
        using var generator = new Generator(20261202);
        var worst = (Layer: "", Difference: 0.0);
        var wasEnabled = Enabled;
        try
        {
            foreach (var (name, layer, input) in Probes())
            {
                using var scope = NewDisposeScope();
                using var noGrad = no_grad();
                using var disposeLayer = layer;
                foreach (var parameter in layer.parameters())
                {
                    parameter.copy_(randn(parameter.shape, generator: generator) * 0.1);
                }

                var x = randn(input, generator: generator);
                Enabled = true;
                var withOneDnn = layer.call(x);
                Enabled = false;
                var reference = layer.call(x);
                var scale = Math.Max(reference.abs().max().item<float>(), 1e-6f);
                var difference = (withOneDnn - reference).abs().max().item<float>() / scale;
                if (!(difference <= worst.Difference))
                {
                    worst = (name, float.IsNaN(difference) ? double.PositiveInfinity : difference);
                }
            }
        }
        finally
        {
            Enabled = wasEnabled;
            random.set_rng_state(globalState);
        }

        return worst;
    }

    /// <summary>
    /// Refuses to go on when oneDNN is on and its kernels disagree with ATen's: the message says how far and what to set.
    /// </summary>
    public static void EnsureCorrect()
    {
        if (!Enabled)
        {
            return;
        }

        var (layer, difference) = Verdict.Value;
        if (difference > Tolerance)
        {
            throw Refusal(layer, difference, Environment.GetEnvironmentVariable("DNNL_MAX_CPU_ISA"));
        }
    }

    /// <summary>The error for kernels that disagree: the layer, by how much, the limit, the cap in force and what to set.</summary>
    internal static WrongKernelsException Refusal(string layer, double difference, string? cap)
    {
        var measured = difference.ToString("0.###e+0", CultureInfo.InvariantCulture);
        var limit = Tolerance.ToString("0e+0", CultureInfo.InvariantCulture);
        return new WrongKernelsException(
            $"libtorch's oneDNN kernels compute wrong values on this CPU: {layer} differs from ATen's reference kernels by {measured} of its largest output (limit {limit}), "
            + $"so what libtorch computes here (training steps, averaged statistics, Stage-I images) would be wrong. DNNL_MAX_CPU_ISA is {(cap is null ? "unset" : $"'{cap}'")}: start the command again with DNNL_MAX_CPU_ISA=SSE41 in its environment "
            + "(libtorch reads it when it loads; docs/training.md, \"Wrong numbers from oneDNN\").");
    }

    // The layers behind the parity failures seen on the AMD EPYC VM: a transposed convolution from a 1×1 input (DCGAN's
    // first layer; wrong from AVX2 up) and a 3×3 convolution over a channel count that is not a multiple of 8 (Stage-II's
    // join of image features and caption condition; wrong from AVX up), beside the usual shapes of both.
    private static IEnumerable<(string Name, nn.Module<Tensor, Tensor> Layer, long[] Input)> Probes()
    {
        yield return ("ConvTranspose2d(100→256, 4×4) from a 1×1 input", nn.ConvTranspose2d(100, 256, kernel_size: 4), [8, 100, 1, 1]);
        yield return ("ConvTranspose2d(6→4, 7×7) from a 1×1 input", nn.ConvTranspose2d(6, 4, kernel_size: 7), [5, 6, 1, 1]);
        yield return ("ConvTranspose2d(128→64, 4×4, stride 2)", nn.ConvTranspose2d(128, 64, kernel_size: 4, stride: 2, padding: 1), [8, 128, 8, 8]);
        yield return ("Conv2d(22→16, 3×3)", nn.Conv2d(22, 16, kernel_size: 3, padding: 1, bias: false), [5, 22, 16, 16]);
        yield return ("Conv2d(64→64, 3×3)", nn.Conv2d(64, 64, kernel_size: 3, padding: 1), [8, 64, 16, 16]);
        yield return ("Conv2d(3→64, 4×4, stride 2)", nn.Conv2d(3, 64, kernel_size: 4, stride: 2, padding: 1), [8, 3, 32, 32]);
    }

    // TorchSharp loads libtorch_cpu on first use; after that the dynamic loader finds it by name.
    private static void EnsureLoaded() => InitializeDeviceType(DeviceType.CPU);
}

/// <summary>libtorch's CPU kernels give wrong values on this machine; the message says what to set.</summary>
public sealed class WrongKernelsException(string message) : Exception(message);

using System.Runtime.CompilerServices;
using GanInference.Core.Runtime;
using Microsoft.Extensions.Logging.Abstractions;
using MsOptions = Microsoft.Extensions.Options.Options;

namespace GanInference.Core.Tests.Runtime;

/// <summary>
/// ONNX Runtime's environment is per process and its shared thread pool can only be made when it is created. Some tests
/// open sessions directly (oracles), which would create it without the pool; so the test assembly creates it first, the
/// way the server does (one pool; one thread, as the tests' sessions always had).
/// </summary>
internal static class SharedOnnxEnvironment
{
    public const int IntraOpThreads = 1;

#pragma warning disable CA2255 // A test assembly, not a library: the environment must exist before any test opens a session.
    [ModuleInitializer]
    internal static void Create() =>
        _ = new OnnxSessionFactory(MsOptions.Create(new InferenceOptions { IntraOpThreads = IntraOpThreads }), NullLogger<OnnxSessionFactory>.Instance);
#pragma warning restore CA2255
}

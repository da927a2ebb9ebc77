using System.Runtime.InteropServices;
using GanInference.Api.V1;

namespace GanInference.Server.Tests.Infrastructure;

internal static class Images
{
    public static float[] Floats(GeneratedImage image)
    {
        Assert.Equal(ImageFormat.RawF32, image.Format);
        return MemoryMarshal.Cast<byte, float>(image.Data.Span).ToArray();
    }

    public static void AssertClose(float[] expected, float[] actual, float tolerance = 1e-5f)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (var i = 0; i < expected.Length; i++)
        {
            Assert.True(MathF.Abs(expected[i] - actual[i]) <= tolerance, $"value {i}: expected {expected[i]}, got {actual[i]}");
        }
    }
}

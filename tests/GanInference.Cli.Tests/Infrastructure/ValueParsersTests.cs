using GanInference.Api.V1;

namespace GanInference.Cli.Tests;

public sealed class ValueParsersTests
{
    [Theory]
    [InlineData("30s", 30_000)]
    [InlineData("500ms", 500)]
    [InlineData("2m", 120_000)]
    [InlineData("1.5", 1_500)]
    [InlineData("00:00:03", 3_000)]
    public void Durations(string text, double milliseconds)
    {
        Assert.True(ValueParsers.TryParseDuration(text, out var duration));
        Assert.Equal(milliseconds, duration.TotalMilliseconds, 6);
    }

    [Theory]
    [InlineData("soon")]
    [InlineData("-5s")]
    [InlineData("")]
    public void Bad_durations(string text) => Assert.False(ValueParsers.TryParseDuration(text, out _));

    [Fact]
    public void Seeds_take_lists_and_inclusive_ranges()
    {
        Assert.True(ValueParsers.TryParseSeeds("7, 100..103", out var seeds));
        Assert.Equal([7UL, 100, 101, 102, 103], seeds);
        Assert.False(ValueParsers.TryParseSeeds("5..3", out _));
        Assert.False(ValueParsers.TryParseSeeds("x", out _));
    }

    [Theory]
    [InlineData("png", ImageFormat.Png)]
    [InlineData("JPG", ImageFormat.Jpeg)]
    [InlineData("raw-u8", ImageFormat.RawU8)]
    [InlineData("raw_f32", ImageFormat.RawF32)]
    public void Formats(string text, ImageFormat expected)
    {
        Assert.True(ValueParsers.TryParseFormat(text, out var format));
        Assert.Equal(expected, format);
    }

    [Fact]
    public async Task A_bad_option_value_names_the_option()
    {
        var result = await CliRun.InvokeAsync("bench", "--model", "m", "--duration", "soon");

        Assert.Equal(ExitCodes.BadInput, result.ExitCode);
        Assert.Contains("--duration: 'soon' is not a duration", result.Error);
    }
}

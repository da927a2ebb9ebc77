using GanInference.Core.Errors;
using GanInference.Core.Limits;

namespace GanInference.Core.Tests.Limits;

public sealed class RequestLimitsTests
{
    [Fact]
    public void A_count_over_its_limit_names_the_field_the_value_the_limit_and_its_configuration_key()
    {
        RequestLimits.CheckAtMost("count", 10, 10, "Limits:MaxImagesPerRequest", "images");

        var error = Assert.Throws<InvalidFieldException>(() => RequestLimits.CheckAtMost("count", 11, 10, "Limits:MaxImagesPerRequest", "images"));

        Assert.Equal("count", error.Field);
        Assert.Equal(GanErrorKind.InvalidArgument, error.Kind);
        Assert.Equal("count: 11 images is outside 1..10 for this call (Limits:MaxImagesPerRequest)", error.Message);
    }

    [Theory]
    [InlineData(64, 64, 4096, null)]
    [InlineData(65, 64, 4096, "images[2]: image of 65x64 = 4160 pixels is over the limit of 4096 pixels (Limits:MaxInputImagePixels)")]
    [InlineData(0, 64, 4096, "images[2]: image size 0x64 must be positive")]
    [InlineData(1L << 31, 1L << 31, 4096, "images[2]: image of 2147483648x2147483648 = 4611686018427387904 pixels")]
    public void Input_image_pixels_are_checked_from_the_header_size(long width, long height, long maxPixels, string? expected)
    {
        if (expected is null)
        {
            RequestLimits.CheckImagePixels("images[2]", width, height, maxPixels, "Limits:MaxInputImagePixels");
            return;
        }

        var error = Assert.Throws<InvalidFieldException>(() => RequestLimits.CheckImagePixels("images[2]", width, height, maxPixels, "Limits:MaxInputImagePixels"));
        Assert.StartsWith(expected, error.Message);
    }

    [Fact]
    public void Text_over_its_length_limit_is_refused_naming_the_field()
    {
        RequestLimits.CheckText("texts[0]", new string('a', 8), 8, "Limits:MaxTextLength");

        var error = Assert.Throws<InvalidFieldException>(() => RequestLimits.CheckText("texts[1]", new string('a', 9), 8, "Limits:MaxTextLength"));

        Assert.Equal("texts[1]: text of 9 characters is over the limit of 8 (Limits:MaxTextLength)", error.Message);
    }
}

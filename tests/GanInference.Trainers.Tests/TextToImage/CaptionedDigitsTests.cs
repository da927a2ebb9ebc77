using GanInference.Trainers.TextToImage;

namespace GanInference.Trainers.Tests.TextToImage;

public sealed class CaptionedDigitsTests
{
    [Fact]
    public void Grammar_words_are_all_in_the_vocabulary_and_captions_fit_the_token_row()
    {
        var random = new Random(1);
        foreach (var attributes in CaptionGrammar.AllCombinations())
        {
            for (var template = 0; template < CaptionGrammar.Templates.Count; template++)
            {
                var caption = CaptionGrammar.Caption(attributes, template, numeral: random.Next(2) == 0, withThickness: true, grey: true);
                var tokens = CaptionGrammar.Tokenize(caption);
                Assert.InRange(tokens.Count(t => t != 0), 3, CaptionGrammar.MaxWords);
            }
        }

        Assert.Equal("<pad>", CaptionGrammar.Vocabulary[0]);
        Assert.Equal(CaptionGrammar.Vocabulary.Count, CaptionGrammar.Vocabulary.Distinct().Count());
    }

    [Theory]
    [InlineData(7, 0, 0, 2, 0, false, "a thick red seven on a black background")]
    [InlineData(7, 0, 0, 2, 1, true, "thick red 7 on black")]
    [InlineData(8, 2, 1, 0, 2, false, "an eight drawn in thin blue strokes on white")]
    [InlineData(3, 3, 2, 1, 3, false, "regular yellow three, gray background")]
    public void Captions_follow_the_templates(int digit, int colour, int background, int thickness, int template, bool numeral, string expected) =>
        Assert.Equal(expected, CaptionGrammar.Caption(new DigitAttributes(digit, colour, background, thickness), template, numeral, withThickness: true));

    [Fact]
    public void Tokenizer_lowercases_drops_punctuation_and_names_unknown_words()
    {
        Assert.Equal(CaptionGrammar.Tokenize("red 7 on black"), CaptionGrammar.Tokenize("  RED 7, on black!"));
        var error = Assert.Throws<ArgumentException>(() => CaptionGrammar.Tokenize("a purple seven"));
        Assert.Contains("'purple'", error.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => CaptionGrammar.Tokenize("  ,. "));
    }

    [Fact]
    public void Held_out_combinations_are_a_tenth_and_every_colour_background_thickness_is_still_trained()
    {
        var all = CaptionGrammar.AllCombinations().ToArray();
        var heldOut = all.Where(a => a.IsHeldOut).ToArray();
        Assert.Equal(600, all.Length); // 10 digits × (7 × 3 − 1 white-on-white) × 3 thicknesses
        Assert.Equal(60, heldOut.Length);
        foreach (var group in all.GroupBy(a => (a.Colour, a.Background, a.Thickness)))
        {
            Assert.Equal(1, group.Count(a => a.IsHeldOut));
        }

        var random = new Random(2);
        for (var i = 0; i < 2000; i++)
        {
            Assert.False(CaptionGrammar.RandomTrainingAttributes(i % 10, random).IsHeldOut);
        }
    }

    [Fact]
    public void Renders_colour_on_background_and_the_reader_reads_it_back()
    {
        var grey = new float[28 * 28];
        for (var y = 6; y < 22; y++)
        {
            grey[(y * 28) + 13] = grey[(y * 28) + 14] = 1f; // a vertical bar
        }

        var attributes = new DigitAttributes(1, Colour: 0, Background: 2, Thickness: 2);
        var large = new float[3 * 64 * 64];
        var small = new float[3 * 32 * 32];
        CaptionedDigits.Render(grey, attributes, large, small);
        Assert.Equal(0.5f, large[0], 5); // gray background, red channel at the corner
        var modelRange = large.Select(v => (v * 2f) - 1f).ToArray();
        var (background, stroke, ink) = TextToImageEvaluator.Analyse(modelRange, 64);
        Assert.Equal(2, background);
        Assert.Equal(0, stroke);
        Assert.Equal(1f, ink.Max(), 3);
    }
}

using GanInference.Core.Text;

namespace GanInference.Core.Tests.Text;

public sealed class TextTokenizerTests
{
    private static readonly string[] Vocabulary = ["<pad>", "a", "red", "seven", "on", "black", "background", "7", "3d", "k"];
    private readonly TextTokenizer _tokenizer = new(Vocabulary, maxTokens: 6);

    [Theory]
    [InlineData("a red seven on black", new long[] { 1, 2, 3, 4, 5, 0 })]
    [InlineData("A RED Seven, on... BLACK!", new long[] { 1, 2, 3, 4, 5, 0 })]
    [InlineData("  red\tseven\n", new long[] { 2, 3, 0, 0, 0, 0 })]
    [InlineData("red-seven/on_black", new long[] { 2, 3, 4, 5, 0, 0 })]
    [InlineData("a 7 on 3D background", new long[] { 1, 7, 4, 8, 6, 0 })]
    [InlineData("red\u00e9seven", new long[] { 2, 3, 0, 0, 0, 0 })]
    [InlineData("red seven on black a background", new long[] { 2, 3, 4, 5, 1, 6 })]
    public void Words_are_lower_cased_runs_of_letters_and_digits_written_left_aligned_and_padded(string text, long[] expected)
    {
        var row = new long[6];
        Array.Fill(row, 99);

        var result = _tokenizer.Tokenize(text, row);

        Assert.Equal(TokenizeStatus.Ok, result.Status);
        Assert.Equal(expected.Count(id => id != 0), result.WordCount);
        Assert.Equal(expected, row);
    }

    [Fact]
    public void Lower_casing_is_the_invariant_cultures_so_the_kelvin_sign_is_a_k()
    {
        var row = new long[6];

        var result = _tokenizer.Tokenize("\u212A red", row);

        Assert.Equal(TokenizeStatus.Ok, result.Status);
        Assert.Equal([9L, 2, 0, 0, 0, 0], row);
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("\t\n")]
    [InlineData("?!, ... --")]
    public void A_text_without_words_is_refused(string text)
    {
        var result = _tokenizer.Tokenize(text, new long[6]);

        Assert.Equal(TokenizeStatus.NoWords, result.Status);
        Assert.Equal(0, result.WordCount);
    }

    [Fact]
    public void More_words_than_max_tokens_are_refused_with_the_full_count()
    {
        var result = _tokenizer.Tokenize("a red seven on black background red red", new long[6]);

        Assert.Equal(TokenizeStatus.TooManyWords, result.Status);
        Assert.Equal(8, result.WordCount);
    }

    [Fact]
    public void Every_unknown_word_is_reported_once_in_order_and_lower_cased()
    {
        var result = _tokenizer.Tokenize("a Purple seven, NINE purple x", new long[6]);

        Assert.Equal(TokenizeStatus.UnknownWords, result.Status);
        Assert.Equal(["purple", "nine", "x"], result.UnknownWords);
        Assert.Equal(6, result.WordCount);
    }

    [Fact]
    public void A_long_text_goes_through_the_pooled_buffer_with_the_same_result()
    {
        var padding = new string(' ', 1000);
        var row = new long[6];

        var result = _tokenizer.Tokenize(padding + "Red, SEVEN" + padding, row);

        Assert.Equal(TokenizeStatus.Ok, result.Status);
        Assert.Equal([2L, 3, 0, 0, 0, 0], row);
    }

    [Fact]
    public void The_pad_token_is_never_produced_from_text()
    {
        var result = _tokenizer.Tokenize("<pad> red", new long[6]);

        Assert.Equal(TokenizeStatus.UnknownWords, result.Status);
        Assert.Equal(["pad"], result.UnknownWords);
    }

    [Fact]
    public void A_row_of_the_wrong_width_is_a_programming_error()
    {
        Assert.Throws<ArgumentException>(() => _tokenizer.Tokenize("red", new long[5]));
    }

    [Fact]
    public void Tokenizing_a_valid_text_allocates_nothing()
    {
        var row = new long[6];
        const string Text = "A red seven, on black background";
        _tokenizer.Tokenize(Text, row);

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 100; i++)
        {
            _tokenizer.Tokenize(Text, row);
        }

        Assert.Equal(before, GC.GetAllocatedBytesForCurrentThread());
    }
}

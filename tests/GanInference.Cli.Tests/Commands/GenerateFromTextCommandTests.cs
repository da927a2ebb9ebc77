using GanInference.Tests.TestModels;
using SkiaSharp;

namespace GanInference.Cli.Tests.Commands;

[Collection(TextServerCollection.Name)]
public sealed class GenerateFromTextCommandTests(TextServerFixture server)
{
    [Fact]
    public async Task Texts_write_count_images_per_caption_named_by_text_and_seed_and_say_which_caption_got_which_seeds()
    {
        using var folder = new TempFolder();

        var result = await CliRun.InvokeAsync(
            "generate", "--server", server.Address, "--model", TextServerFixture.Pipeline,
            "--texts", "a red seven on black", "--texts", "Thin blue ONE", "--count", "2", "--seed", "5", "--out", folder.Path);

        Assert.True(result.ExitCode == 0, result.ToString());
        var files = Directory.GetFiles(folder.Path).Select(f => Path.GetFileName(f)).Order().ToArray();
        Assert.Equal(
            ["txt-pipe-0000-t0-s5.png", "txt-pipe-0001-t0-s6.png", "txt-pipe-0002-t1-s7.png", "txt-pipe-0003-t1-s8.png"],
            files);
        foreach (var file in Directory.GetFiles(folder.Path))
        {
            using var bitmap = SKBitmap.Decode(file);
            Assert.Equal((8, 8), (bitmap.Width, bitmap.Height));
        }

        Assert.Contains("text 0 (2 images, seeds 5,6): a red seven on black", result.Output);
        Assert.Contains("text 1 (2 images, seeds 7,8): Thin blue ONE", result.Output);
        Assert.Contains("wrote 4 images to", result.Output);
        Assert.NotEqual(File.ReadAllBytes(Path.Combine(folder.Path, files[0])), File.ReadAllBytes(Path.Combine(folder.Path, files[2])));
    }

    [Fact]
    public async Task A_texts_file_gives_one_caption_per_line_and_the_same_images_as_texts_on_the_command_line()
    {
        using var folder = new TempFolder();
        var captions = folder.Combine("captions.txt");
        await File.WriteAllTextAsync(captions, "green seven\n\n  white one on black  \n");

        var fromFile = await CliRun.InvokeAsync(
            "generate", "--server", server.Address, "--model", TextServerFixture.Stage1, "--texts-file", captions, "--seeds", "3,4", "--out", folder.Combine("file"));
        var fromOptions = await CliRun.InvokeAsync(
            "generate", "--server", server.Address, "--model", TextServerFixture.Stage1, "--texts", "green seven", "--texts", "white one on black", "--seeds", "3,4", "--out", folder.Combine("options"));

        Assert.True(fromFile.ExitCode == 0, fromFile.ToString());
        Assert.True(fromOptions.ExitCode == 0, fromOptions.ToString());
        Assert.Contains("text 1 (1 image, seeds 4): white one on black", fromFile.Output);
        var names = Directory.GetFiles(folder.Combine("file")).Select(f => Path.GetFileName(f)).Order().ToArray();
        Assert.Equal(["txt-stage1-0000-t0-s3.png", "txt-stage1-0001-t1-s4.png"], names);
        foreach (var name in names)
        {
            Assert.Equal(File.ReadAllBytes(Path.Combine(folder.Combine("options"), name)), File.ReadAllBytes(Path.Combine(folder.Combine("file"), name)));
        }
    }

    [Fact]
    public async Task A_contact_sheet_of_captions_is_one_png()
    {
        using var folder = new TempFolder();
        var grid = folder.Combine("sheet.png");

        var result = await CliRun.InvokeAsync(
            "generate", "--server", server.Address, "--model", TextServerFixture.Pipeline, "--texts", "red seven", "--count", "4", "--seed", "1", "--grid", grid);

        Assert.True(result.ExitCode == 0, result.ToString());
        using var sheet = SKBitmap.Decode(grid);
        Assert.Equal((2 * (8 + 2)) + 2, sheet.Width);
    }

    [Fact]
    public async Task An_unknown_word_is_the_servers_invalid_argument_naming_the_text()
    {
        using var folder = new TempFolder();

        var result = await CliRun.InvokeAsync(
            "generate", "--server", server.Address, "--model", TextServerFixture.Pipeline, "--texts", "red seven", "--texts", "a mauve nine", "--out", folder.Path);

        Assert.Equal(ExitCodes.Failure, result.ExitCode);
        Assert.Contains("InvalidArgument: texts[1]: unknown words 'mauve', 'nine'", result.Error);
        Assert.Empty(Directory.GetFiles(folder.Path));
    }

    [Fact]
    public async Task Captions_for_a_model_without_text_and_a_text_model_without_captions_are_bad_input()
    {
        using var folder = new TempFolder();

        var noText = await CliRun.InvokeAsync("generate", "--server", server.Address, "--model", TinyModels.Unconditional, "--texts", "red", "--out", folder.Path);
        var noCaptions = await CliRun.InvokeAsync("generate", "--server", server.Address, "--model", TextServerFixture.Pipeline, "--out", folder.Path);
        var labels = await CliRun.InvokeAsync("generate", "--server", server.Address, "--model", TextServerFixture.Pipeline, "--texts", "red", "--labels", "1", "--out", folder.Path);
        var seeds = await CliRun.InvokeAsync("generate", "--server", server.Address, "--model", TextServerFixture.Pipeline, "--texts", "red", "--texts", "blue", "--seeds", "1,2,3", "--out", folder.Path);

        Assert.Equal(ExitCodes.BadInput, noText.ExitCode);
        Assert.Contains("--texts: model 'tiny-uncond' is unconditional and takes no captions.", noText.Error);
        Assert.Equal(ExitCodes.BadInput, noCaptions.ExitCode);
        Assert.Contains("model 'txt-pipe' is text-conditional: give captions with --texts \"...\" or --texts-file FILE (`gan models txt-pipe` lists the words it knows).", noCaptions.Error);
        Assert.Equal(ExitCodes.BadInput, labels.ExitCode);
        Assert.Equal(ExitCodes.BadInput, seeds.ExitCode);
        Assert.Contains("--seeds: give one seed per image: 2 captions × count, not 3.", seeds.Error);
    }

    [Fact]
    public async Task Models_NAME_lists_the_vocabulary_of_a_text_model()
    {
        var result = await CliRun.InvokeAsync("models", TextServerFixture.Pipeline, "--server", server.Address);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("vocabulary", result.Output);
        Assert.Contains(" red ", result.Output);
        Assert.Contains("at most 6 per caption", result.Output);
        Assert.Contains($"pipeline     {TextServerFixture.Stage1} -> {TextServerFixture.Stage2}", result.Output);
        Assert.Contains($"gan generate --model {TextServerFixture.Pipeline} --texts", result.Output);
    }

    [Fact]
    public async Task Models_shows_text_models_their_vocabulary_size_and_pipelines_with_their_steps()
    {
        var result = await CliRun.InvokeAsync("models", "--server", server.Address);

        Assert.True(result.ExitCode == 0, result.ToString());
        var lines = result.Output.Split('\n');
        var words = TinyTextModels.Vocabulary.Length - 1;
        Assert.Contains(lines, l => l.Contains(TextServerFixture.Pipeline) && l.Contains("text-conditional") && l.Contains("8x8x3")
            && l.Contains($"text: {words} words, <= 6 per text; pipeline txt-stage1 -> txt-stage2"));
        Assert.Contains(lines, l => l.Contains(TextServerFixture.Stage1 + " ") && l.Contains("4x4x3") && l.Contains($"text: {words} words, <= 6 per text "));
        Assert.Contains(lines, l => l.Contains(TextServerFixture.Stage2) && l.Contains("pipeline step (takes an image)"));
        Assert.Contains(lines, l => l.Contains(TinyModels.Conditional) && l.Contains("10: 0,1,2,3,4,5,6,7,8,9"));
    }
}

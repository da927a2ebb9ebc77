using SkiaSharp;

namespace GanInference.Cli.Tests.Commands;

[Collection(ServerCollection.Name)]
public sealed class GenerateTests(ServerFixture server)
{
    [Fact]
    public async Task Generate_writes_one_png_per_seed_with_the_requested_label()
    {
        using var folder = new TempFolder();

        var result = await CliRun.InvokeAsync(
            "generate", "--server", server.Address, "--model", TinyModels.Conditional, "--seeds", "100..103", "--labels", "7", "--out", folder.Path);

        Assert.True(result.ExitCode == 0, result.ToString());
        var files = Directory.GetFiles(folder.Path).Select(f => Path.GetFileName(f)).Order().ToArray();
        Assert.Equal(
            ["tiny-cond-0000-s100-c7.png", "tiny-cond-0001-s101-c7.png", "tiny-cond-0002-s102-c7.png", "tiny-cond-0003-s103-c7.png"],
            files);
        foreach (var file in Directory.GetFiles(folder.Path))
        {
            using var bitmap = SKBitmap.Decode(file);
            Assert.Equal(TinyModels.Size, bitmap.Width);
            Assert.Equal(TinyModels.Size, bitmap.Height);
        }

        // Different seeds give different images (a constant image would pass a size check).
        Assert.NotEqual(File.ReadAllBytes(Path.Combine(folder.Path, files[0])), File.ReadAllBytes(Path.Combine(folder.Path, files[1])));
    }

    [Fact]
    public async Task Grid_is_one_contact_sheet_whose_cells_match_the_single_images()
    {
        using var folder = new TempFolder();
        var grid = folder.Combine("sheet.png");

        var gridResult = await CliRun.InvokeAsync(
            "generate", "--server", server.Address, "--model", TinyModels.Unconditional, "--count", "6", "--seed", "40", "--grid", grid, "--scale", "2");
        var singleResult = await CliRun.InvokeAsync(
            "generate", "--server", server.Address, "--model", TinyModels.Unconditional, "--seeds", "44", "--out", folder.Combine("single"));

        Assert.True(gridResult.ExitCode == 0, gridResult.ToString());
        Assert.True(singleResult.ExitCode == 0, singleResult.ToString());
        using var sheet = SKBitmap.Decode(grid);
        // 6 images → 3 columns x 2 rows of 16x16 cells (8x8 scaled by 2), 2-pixel padding.
        Assert.Equal((3 * (16 + 2)) + 2, sheet.Width);
        Assert.Equal((2 * (16 + 2)) + 2, sheet.Height);

        // Seed 44 is the fifth image: row 1, column 1. Its pixels equal the PNG of seed 44 alone.
        using var single = SKBitmap.Decode(Directory.GetFiles(folder.Combine("single")).Single());
        var (cellX, cellY) = (2 + 18, 2 + 18);
        for (var y = 0; y < TinyModels.Size; y++)
        {
            for (var x = 0; x < TinyModels.Size; x++)
            {
                var expected = single.GetPixel(x, y);
                var actual = sheet.GetPixel(cellX + (2 * x), cellY + (2 * y));
                Assert.InRange(Math.Abs(expected.Red - actual.Red), 0, 1);
                Assert.InRange(Math.Abs(expected.Green - actual.Green), 0, 1);
                Assert.InRange(Math.Abs(expected.Blue - actual.Blue), 0, 1);
            }
        }
    }

    [Fact]
    public async Task Unwritable_output_folder_is_reported_before_any_work()
    {
        using var folder = new TempFolder();
        var blocker = folder.Combine("a-file");
        await File.WriteAllTextAsync(blocker, "not a folder");

        var result = await CliRun.InvokeAsync(
            "generate", "--server", server.Address, "--model", TinyModels.Conditional, "--out", Path.Combine(blocker, "images"));

        Assert.Equal(ExitCodes.BadInput, result.ExitCode);
        Assert.StartsWith($"--out: '{Path.Combine(blocker, "images")}' cannot be a folder: '", result.Error);
        Assert.Contains("a-file' is a file. Give a folder path.", result.Error);
        Assert.Equal("not a folder", await File.ReadAllTextAsync(blocker));
    }
}

using GanInference.Trainers.Data;

namespace GanInference.Trainers.Tests.Data;

public sealed class MnistDatasetTests
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Reads_gzip_and_plain_IDX(bool gzip)
    {
        using var temp = new TempDirectory();
        TinyMnist.Write(temp.Path, trainCount: 30, testCount: 10, gzip);

        var train = await MnistDataset.LoadAsync(temp.Path, MnistSplit.Train, CancellationToken.None);
        var test = await MnistDataset.LoadAsync(temp.Path, MnistSplit.Test, CancellationToken.None);

        Assert.Equal(30, train.Count);
        Assert.Equal(10, test.Count);
        Assert.Equal(30 * 28 * 28, train.Pixels.Length);
        Assert.Equal([0, 1, 2, 3], train.Labels.Take(4));
        using var images = train.ImagesTensor();
        Assert.Equal([30L, 1, 28, 28], images.shape);
        Assert.Equal(-1f, images.min().item<float>());
        Assert.True(images.max().item<float>() > 0.4f);
    }

    [Fact]
    public async Task Missing_folder_names_the_folder()
    {
        var missing = Path.Combine(Path.GetTempPath(), "no-such-mnist-" + Guid.NewGuid().ToString("N"));
        var error = await Assert.ThrowsAsync<DatasetException>(() => MnistDataset.LoadAsync(missing, MnistSplit.Train, CancellationToken.None));
        Assert.Equal(missing, error.Path);
        Assert.Contains(missing, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Missing_file_names_the_file()
    {
        using var temp = new TempDirectory();
        TinyMnist.Write(temp.Path, 20, 10, gzip: true);
        File.Delete(temp.Combine("train-labels-idx1-ubyte.gz"));

        var error = await Assert.ThrowsAsync<DatasetException>(() => MnistDataset.LoadAsync(temp.Path, MnistSplit.Train, CancellationToken.None));
        Assert.Contains("train-labels-idx1-ubyte", error.Message, StringComparison.Ordinal);
        Assert.Contains("not found", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Wrong_magic_number_names_the_file()
    {
        using var temp = new TempDirectory();
        TinyMnist.Write(temp.Path, 20, 10, gzip: false);
        // A labels file where the images file should be: magic 0x801 instead of 0x803.
        var imagesPath = temp.Combine("train-images-idx3-ubyte");
        File.Copy(temp.Combine("train-labels-idx1-ubyte"), imagesPath, overwrite: true);

        var error = await Assert.ThrowsAsync<DatasetException>(() => MnistDataset.LoadAsync(temp.Path, MnistSplit.Train, CancellationToken.None));
        Assert.Equal(imagesPath, error.Path);
        Assert.Contains("magic number 0x00000801", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Truncated_file_names_the_file(bool gzip)
    {
        using var temp = new TempDirectory();
        var labels = Enumerable.Range(0, 20).Select(i => (byte)(i % 10)).ToArray();
        var images = TinyMnist.Images(20, labels, new Random(1));
        TinyMnist.Write(temp.Path, 20, 10, gzip);
        var imagesPath = temp.Combine("train-images-idx3-ubyte") + (gzip ? ".gz" : string.Empty);
        if (gzip)
        {
            // Cut the compressed stream itself in half.
            var compressed = File.ReadAllBytes(imagesPath);
            File.WriteAllBytes(imagesPath, compressed.AsSpan(0, compressed.Length / 2).ToArray());
        }
        else
        {
            File.WriteAllBytes(imagesPath, images.AsSpan(0, images.Length - 100).ToArray());
        }

        var error = await Assert.ThrowsAsync<DatasetException>(() => MnistDataset.LoadAsync(temp.Path, MnistSplit.Train, CancellationToken.None));
        Assert.Equal(imagesPath, error.Path);
        Assert.True(error.Message.Contains("truncated", StringComparison.Ordinal) || error.Message.Contains("corrupt gzip", StringComparison.Ordinal), error.Message);
    }

    [Fact]
    public async Task Image_and_label_counts_must_agree()
    {
        using var temp = new TempDirectory();
        TinyMnist.Write(temp.Path, 20, 10, gzip: false);
        File.WriteAllBytes(temp.Combine("train-labels-idx1-ubyte"), TinyMnist.Labels(new byte[19]));

        var error = await Assert.ThrowsAsync<DatasetException>(() => MnistDataset.LoadAsync(temp.Path, MnistSplit.Train, CancellationToken.None));
        Assert.Contains("19 labels", error.Message, StringComparison.Ordinal);
    }
}

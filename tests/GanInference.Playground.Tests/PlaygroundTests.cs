using System.Diagnostics;
using System.Net;
using System.Text.Json;
using GanInference.Core.Sampling;
using GanInference.Playground.Tests.Infrastructure;
using Google.Protobuf;
using Grpc.Net.Client;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;
using V1 = GanInference.Api.V1;

namespace GanInference.Playground.Tests;

/// <summary>One server on the shipped models/ and one Chromium for every test of <see cref="PlaygroundTests"/>.</summary>
public sealed class ShippedModelsFixture : IAsyncLifetime
{
    internal ServerProcess Server { get; private set; } = null!;

    internal Browser Browser { get; private set; } = null!;

    internal GrpcChannel Channel { get; private set; } = null!;

    internal V1.GanInference.GanInferenceClient Client { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var server = ServerProcess.StartAsync(Repository.Models, minModels: 8);
        var browser = Browser.LaunchAsync();
        Server = await server;
        Browser = await browser;
        Channel = GrpcChannel.ForAddress(Server.GrpcAddress, new GrpcChannelOptions { MaxReceiveMessageSize = 64 * 1024 * 1024 });
        Client = new V1.GanInference.GanInferenceClient(Channel);
    }

    public async Task DisposeAsync()
    {
        Channel.Dispose();
        await Browser.DisposeAsync();
        await Server.DisposeAsync();
    }
}

/// <summary>Every view of the playground in a real Chromium against a real server on the shipped models.</summary>
public sealed class PlaygroundTests(ShippedModelsFixture fixture) : IClassFixture<ShippedModelsFixture>
{
    private readonly ServerProcess _server = fixture.Server;

    private async Task<IPage> OpenAsync(string view, int width = 1100, int height = 900)
    {
        var page = await fixture.Browser.OpenAsync($"{_server.HttpAddress}/#{view}", width, height);
        await page.EvaluateAsync("() => window.gan.ready()");
        return page;
    }

    [Fact]
    public async Task The_page_and_its_files_are_served_with_their_content_types_and_revalidated_by_etag()
    {
        using var http = new HttpClient { BaseAddress = new Uri(_server.HttpAddress) };
        foreach (var (path, type) in new[] { ("/", "text/html"), ("/playground/playground.js", "text/javascript"), ("/playground/latent.js", "text/javascript"), ("/playground/metrics.js", "text/javascript"), ("/playground/playground.css", "text/css"), ("/playground/config.json", "application/json") })
        {
            using var response = await http.GetAsync(path);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(type, response.Content.Headers.ContentType?.MediaType);
            Assert.Equal("no-cache", response.Headers.CacheControl?.ToString());
            Assert.Contains("default-src 'self'", response.Headers.GetValues("Content-Security-Policy").Single(), StringComparison.Ordinal);
            var etag = response.Headers.ETag ?? throw new InvalidOperationException($"{path} has no ETag");

            using var again = new HttpRequestMessage(HttpMethod.Get, path);
            again.Headers.IfNoneMatch.Add(etag);
            using var revalidated = await http.SendAsync(again);
            Assert.Equal(HttpStatusCode.NotModified, revalidated.StatusCode);
        }

        using var missing = await http.GetAsync("/playground/nothing.js");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        using var samples = await http.GetAsync("/playground/samples/cdcgan-mnist.png");
        Assert.Equal("image/png", samples.Content.Headers.ContentType?.MediaType);
        Assert.Equal(await File.ReadAllBytesAsync(Path.Combine(Repository.Models, "cdcgan-mnist", "samples.png")), await samples.Content.ReadAsByteArrayAsync());
        using var unknownSamples = await http.GetAsync("/playground/samples/no-such-model.png");
        Assert.Equal(HttpStatusCode.NotFound, unknownSamples.StatusCode);

        // Only the HTTP/1.1 listener serves it: the gRPC port (HTTP/2 only) has no page.
        using var h2 = new HttpClient { DefaultRequestVersion = HttpVersion.Version20, DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact };
        using var onGrpcPort = await h2.GetAsync($"{_server.GrpcAddress}/");
        Assert.NotEqual(HttpStatusCode.OK, onGrpcPort.StatusCode);
    }

    [Fact]
    public async Task Models_lists_every_model_with_its_facts_and_samples()
    {
        var page = await OpenAsync("models");
        var view = page.Locator("#view-models");
        var listed = await fixture.Client.ListModelsAsync(new V1.ListModelsRequest());
        var cards = page.Locator("#models-list article.card");
        await Expect(cards).ToHaveCountAsync(listed.Models.Count);
        foreach (var model in listed.Models)
        {
            var card = page.Locator($"article.card[data-model='{model.Name}']");
            await Expect(card).ToContainTextAsync(model.ContentHash);
            await Expect(card).ToContainTextAsync($"{model.Width}×{model.Height}");
            // The page fetches samples.png (with the key, when there is one) and shows it from a blob: wait until it is decoded.
            await page.WaitForFunctionAsync(
                "name => { const img = document.querySelector(`article.card[data-model='${name}'] img.samples`); return img && img.complete && img.naturalWidth > 0; }",
                model.Name);
        }

        await Expect(page.Locator("article.card[data-model='cdcgan-mnist']")).ToContainTextAsync("0, 1, 2, 3, 4, 5, 6, 7, 8, 9");
        await Expect(page.Locator("article.card[data-model='stackgan-digits']")).ToContainTextAsync("stackgan-digits-stage1 → stackgan-digits-stage2");
        var stackgan = listed.Models.Single(m => m.Name == "stackgan-digits");
        await Expect(page.Locator("article.card[data-model='stackgan-digits']")).ToContainTextAsync($"{stackgan.Vocabulary.Count - 1} words, up to {stackgan.MaxTextTokens} a caption");
        await page.Locator("article.card[data-model='cdcgan-mnist'] details").First.Locator("summary").ClickAsync();
        await Expect(page.Locator("article.card[data-model='cdcgan-mnist'] details").First).ToContainTextAsync("frechetDistance");
        await Browser.ScreenshotAsync(page, "models", fullPage: false);
        AssertNoScriptErrors(page);
    }

    [Fact]
    public async Task Generate_shows_a_4x4_grid_whose_decoded_pixels_are_gan_v1_RAW_U8_of_the_same_seeds()
    {
        var page = await OpenAsync("generate");
        var view = page.Locator("#view-generate");
        await view.GetByLabel("Model", new() { Exact = true }).SelectOptionAsync("cdcgan-mnist");
        await view.GetByLabel("First seed", new() { Exact = true }).FillAsync("200");
        await view.GetByLabel("Count", new() { Exact = true }).FillAsync("16");
        await view.GetByLabel("Labels").FillAsync("7");
        await view.GetByRole(AriaRole.Button, new() { Name = "Generate", Exact = true }).ClickAsync();
        var tiles = page.Locator("#gen-grid img");
        await Expect(tiles).ToHaveCountAsync(16);
        Assert.Equal("4", await page.Locator("#gen-grid").EvaluateAsync<string>("grid => getComputedStyle(grid).getPropertyValue('--columns').trim()"));
        Assert.Equal(4, await page.Locator("#gen-grid").EvaluateAsync<int>("grid => getComputedStyle(grid).gridTemplateColumns.split(' ').length"));

        var decoded = await DecodeAsync(tiles, channels: 1);
        var raw = await fixture.Client.GenerateAsync(new V1.GenerateRequest { Model = "cdcgan-mnist", Seed = 200, Count = 16, Labels = { 7 }, Format = V1.ImageFormat.RawU8 });
        Assert.Equal(16, decoded.Count);
        for (var i = 0; i < 16; i++)
        {
            Assert.Equal((200 + i).ToString(System.Globalization.CultureInfo.InvariantCulture), await tiles.Nth(i).GetAttributeAsync("data-seed"));
            Assert.Equal("7", await tiles.Nth(i).GetAttributeAsync("data-label"));
            Assert.Equal(raw.Images[i].Data.ToByteArray(), decoded[i]);
        }

        // Click an image: its seed and label, and a download of exactly that image.
        await page.Locator("#gen-grid button").Nth(5).ClickAsync();
        await Expect(page.Locator("#gen-detail-text")).ToContainTextAsync("seed 205, label 7");
        var download = await page.RunAndWaitForDownloadAsync(() => page.GetByRole(AriaRole.Link, new() { Name = "Download" }).ClickAsync());
        Assert.Equal("cdcgan-mnist-seed205-label7.png", download.SuggestedFilename);
        var png = await File.ReadAllBytesAsync(await download.PathAsync());
        var alone = await fixture.Client.GenerateAsync(new V1.GenerateRequest { Model = "cdcgan-mnist", Seed = 205, Count = 1, Labels = { 7 }, Format = V1.ImageFormat.Png });
        Assert.Equal(alone.Images[0].Data.ToByteArray(), png);
        await Browser.ScreenshotAsync(page, "generate");
        AssertNoScriptErrors(page);
    }

    [Fact]
    public async Task The_pages_latents_are_the_servers_sampler_bit_for_bit()
    {
        var page = await OpenAsync("generate");
        var view = page.Locator("#view-generate");
        ulong[] seeds = [0, 1, 200, 12345, ulong.MaxValue];
        float[] truncations = [0f, 0.5f, 1f, 2.3f];
        foreach (var seed in seeds)
        {
            foreach (var truncation in truncations)
            {
                var fromPage = await page.EvaluateAsync<float[]>(
                    "([seed, t]) => Array.from(window.gan.latent(BigInt(seed), 100, t))", new object[] { seed.ToString(System.Globalization.CultureInfo.InvariantCulture), (double)truncation });
                var expected = new float[100];
                LatentSampler.Fill(seed, truncation, expected);
                Assert.Equal(expected.Select(BitConverter.SingleToInt32Bits), fromPage.Select(BitConverter.SingleToInt32Bits));
            }
        }
    }

    [Fact]
    public async Task A_latent_walk_starts_and_ends_on_the_two_seeds_images_and_moves_in_between()
    {
        var page = await OpenAsync("generate");
        var view = page.Locator("#view-generate");
        await view.GetByLabel("Model", new() { Exact = true }).SelectOptionAsync("cdcgan-mnist");
        await view.GetByLabel("Format").SelectOptionAsync("RAW_U8");
        await view.GetByLabel("From seed").FillAsync("300");
        await view.GetByLabel("To seed").FillAsync("301");
        await view.GetByLabel("Steps").FillAsync("8");
        await view.GetByLabel("Label", new() { Exact = true }).FillAsync("3");
        await view.GetByRole(AriaRole.Button, new() { Name = "Walk" }).ClickAsync();
        var steps = page.Locator("#walk-strip img");
        await Expect(steps).ToHaveCountAsync(8);
        var decoded = await DecodeAsync(steps, channels: 1);

        var ends = await fixture.Client.GenerateAsync(new V1.GenerateRequest { Model = "cdcgan-mnist", Seeds = { 300, 301 }, Labels = { 3 }, Format = V1.ImageFormat.RawU8 });
        AssertWithinOneLevel(ends.Images[0].Data.ToByteArray(), decoded[0]);
        AssertWithinOneLevel(ends.Images[1].Data.ToByteArray(), decoded[7]);

        // Each step differs from the one before it, and the middle is neither end.
        for (var i = 1; i < 8; i++)
        {
            Assert.True(MeanAbsoluteDifference(decoded[i - 1], decoded[i]) > 0, $"step {i} is the same image as step {i - 1}");
        }

        Assert.True(MeanAbsoluteDifference(decoded[3], decoded[0]) > 1 && MeanAbsoluteDifference(decoded[3], decoded[7]) > 1);
        await Browser.ScreenshotAsync(page, "latent-walk");
        AssertNoScriptErrors(page);
    }

    [Fact]
    public async Task Generate_puts_each_bad_value_next_to_its_control()
    {
        var page = await OpenAsync("generate");
        var view = page.Locator("#view-generate");
        await view.GetByLabel("Model", new() { Exact = true }).SelectOptionAsync("cdcgan-mnist");
        await view.GetByLabel("Labels").FillAsync("12");
        await view.GetByRole(AriaRole.Button, new() { Name = "Generate", Exact = true }).ClickAsync();
        await Expect(page.Locator("#gen-labels-error")).ToContainTextAsync("labels: 12 is not a class of cdcgan-mnist");
        await Expect(view.GetByLabel("Labels")).ToHaveAttributeAsync("aria-invalid", "true");

        await view.GetByLabel("Labels").FillAsync(string.Empty);
        await view.GetByLabel("First seed", new() { Exact = true }).FillAsync("-4");
        await view.GetByRole(AriaRole.Button, new() { Name = "Generate", Exact = true }).ClickAsync();
        await Expect(page.Locator("#gen-seed-error")).ToContainTextAsync("'-4' is not a seed");

        // One the server refuses: its message, next to the control its field names.
        await view.GetByLabel("First seed", new() { Exact = true }).FillAsync("1");
        await view.GetByLabel("Count", new() { Exact = true }).FillAsync("3");
        await view.GetByLabel("A list of seeds").CheckAsync();
        await view.GetByLabel("Seeds (comma or space separated)").FillAsync("1 2 3");
        await view.GetByLabel("Labels").FillAsync("1, 2");
        await view.GetByRole(AriaRole.Button, new() { Name = "Generate", Exact = true }).ClickAsync();
        await Expect(page.Locator("#gen-labels-error")).ToContainTextAsync("labels");
        Assert.Equal(string.Empty, await page.Locator("#gen-submit-error").TextContentAsync());
        AssertNoScriptErrors(page);
    }

    [Fact]
    public async Task Text_shows_the_captions_images_and_names_an_unknown_word_and_a_caption_over_the_limit()
    {
        var page = await OpenAsync("text");
        var view = page.Locator("#view-text");
        await view.GetByLabel("Model", new() { Exact = true }).SelectOptionAsync("stackgan-digits");
        await view.GetByLabel("Caption", new() { Exact = true }).FillAsync("a thick red seven on a black background");
        await view.GetByLabel("Images", new() { Exact = true }).FillAsync("4");
        await view.GetByLabel("First seed").FillAsync("1");
        await view.GetByRole(AriaRole.Button, new() { Name = "Generate from text" }).ClickAsync();
        var images = page.Locator("#text-grid img");
        await Expect(images).ToHaveCountAsync(4);
        var expected = await fixture.Client.GenerateFromTextAsync(new V1.GenerateFromTextRequest { Model = "stackgan-digits", Texts = { "a thick red seven on a black background" }, Count = 4, Seed = 1, Format = V1.ImageFormat.RawU8 });
        var decoded = await DecodeAsync(images, channels: 3);
        for (var i = 0; i < 4; i++)
        {
            Assert.Equal(expected.Images[i].Data.ToByteArray(), decoded[i]);
        }

        await Browser.ScreenshotAsync(page, "text");

        await view.GetByLabel("Caption", new() { Exact = true }).FillAsync("a thick red zebra");
        await view.GetByRole(AriaRole.Button, new() { Name = "Generate from text" }).ClickAsync();
        await Expect(page.Locator("#text-caption-error")).ToContainTextAsync("unknown word 'zebra'");
        await Expect(view.GetByLabel("Caption", new() { Exact = true })).ToHaveAttributeAsync("aria-invalid", "true");
        await Browser.ScreenshotAsync(page, "text-unknown-word");

        await view.GetByLabel("Caption", new() { Exact = true }).FillAsync(string.Concat(Enumerable.Repeat("a red seven ", 167)).Trim().PadRight(2000, 'x')[..2000]);
        await Expect(page.Locator("#text-caption-count")).ToContainTextAsync("2000 of at most 1000 characters");
        await view.GetByRole(AriaRole.Button, new() { Name = "Generate from text" }).ClickAsync();
        await Expect(page.Locator("#text-caption-error")).ToContainTextAsync("Limits:MaxTextLength");
        await Expect(view.GetByRole(AriaRole.Button, new() { Name = "Generate from text" })).ToBeEnabledAsync();
        AssertNoScriptErrors(page);
    }

    [Fact]
    public async Task Translate_shows_an_uploaded_png_beside_the_models_output_and_refuses_bad_files_clearly()
    {
        var page = await OpenAsync("translate");
        var view = page.Locator("#view-translate");
        await view.GetByLabel("Model", new() { Exact = true }).SelectOptionAsync("pix2pix-outline2digit");
        await Expect(page.Locator("#tr-expects")).ToContainTextAsync("takes 64×64, grey images");
        var outline = Path.Combine(Repository.Root, "examples", "outlines", "test-00002-9.png");
        // Dropped on the drop zone, as a person would drag it from a file manager.
        var dropped = await page.EvaluateHandleAsync(
            "b64 => { const dt = new DataTransfer(); dt.items.add(new File([Uint8Array.from(atob(b64), c => c.charCodeAt(0))], 'test-00002-9.png', { type: 'image/png' })); return dt; }",
            Convert.ToBase64String(await File.ReadAllBytesAsync(outline)));
        await page.Locator("#tr-drop").DispatchEventAsync("drop", new Dictionary<string, object> { ["dataTransfer"] = dropped });
        await Expect(page.Locator("#tr-drop")).ToContainTextAsync("test-00002-9.png (1.4 KiB)");
        await Expect(page.Locator("#tr-input")).ToBeVisibleAsync();
        await view.GetByRole(AriaRole.Button, new() { Name = "Translate" }).ClickAsync();
        await Expect(page.Locator("#tr-output")).ToBeVisibleAsync();
        var output = (await DecodeAsync(page.Locator("#tr-output"), channels: 1))[0];
        var expected = await fixture.Client.TranslateAsync(new V1.TranslateRequest { Model = "pix2pix-outline2digit", Format = V1.ImageFormat.RawU8, Images = { new V1.InputImage { Data = ByteString.CopyFrom(await File.ReadAllBytesAsync(outline)) } } });
        Assert.Equal(expected.Images[0].Data.ToByteArray(), output);
        await Browser.ScreenshotAsync(page, "translate");

        // Not an image: the server's message names the image, next to the file control.
        var notes = Path.Combine(Path.GetTempPath(), $"playground-notes-{Guid.NewGuid():N}.txt");
        var big = Path.Combine(Path.GetTempPath(), $"playground-big-{Guid.NewGuid():N}.png");
        try
        {
            await File.WriteAllTextAsync(notes, "these are notes, not an image\n");
            await page.Locator("#tr-file").SetInputFilesAsync(notes);
            await view.GetByRole(AriaRole.Button, new() { Name = "Translate" }).ClickAsync();
            await Expect(page.Locator("#tr-file-error")).ToContainTextAsync("images[0]");
            await Expect(page.Locator("#tr-output")).ToBeHiddenAsync();

            // 50 MB: refused in the page, naming the server's limit, before anything is sent.
            await using (var file = File.Create(big))
            {
                file.SetLength(50L * 1000 * 1000);
            }

            var sent = new List<string>();
            page.Request += (_, request) => sent.Add(request.Url);
            await page.Locator("#tr-file").SetInputFilesAsync(big);
            await Expect(page.Locator("#tr-file-error")).ToContainTextAsync("Limits:MaxReceiveMessageBytes");
            await Expect(page.Locator("#tr-file-error")).ToContainTextAsync("47.7 MiB");
            await view.GetByRole(AriaRole.Button, new() { Name = "Translate" }).ClickAsync();
            await Expect(page.Locator("#tr-file-error")).ToContainTextAsync("Choose or drop an image file first");
            Assert.DoesNotContain(sent, url => url.Contains(":translate", StringComparison.Ordinal));
            await Browser.ScreenshotAsync(page, "translate-too-big");
        }
        finally
        {
            File.Delete(notes);
            File.Delete(big);
        }

        AssertNoScriptErrors(page);
    }

    [Fact]
    public async Task Live_moves_while_gan_bench_runs()
    {
        var page = await OpenAsync("live");
        var view = page.Locator("#view-live");
        await view.GetByLabel("Poll every (seconds)").FillAsync("0.5");
        await view.GetByLabel("Poll every (seconds)").DispatchEventAsync("change");
        await view.GetByLabel("Show the last (minutes)").FillAsync("1");
        await view.GetByLabel("Show the last (minutes)").DispatchEventAsync("change");
        await Expect(page.Locator("#live-status")).ToContainTextAsync("points");

        var cli = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = Repository.Root,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[] { Repository.CliDll, "bench", "--server", _server.GrpcAddress, "--model", "dcgan-mnist", "--concurrency", "8", "--count", "4", "--duration", "6s", "--warmup", "0s", "--metrics-url", $"{_server.HttpAddress}/metrics" })
        {
            cli.ArgumentList.Add(argument);
        }

        using var bench = Process.Start(cli)!;
        var output = bench.StandardOutput.ReadToEndAsync();
        var errors = bench.StandardError.ReadToEndAsync();
        try
        {
            var row = page.Locator("#live-table tr[data-model='dcgan-mnist']");
            await Expect(row).ToBeVisibleAsync(new() { Timeout = 30_000 });
            await page.WaitForFunctionAsync(
                "() => { const cell = document.querySelector(\"#live-table tr[data-model='dcgan-mnist'] td[data-metric='throughput']\"); return cell && Number(cell.textContent) > 0; }",
                null,
                new() { Timeout = 30_000, PollingInterval = 100 });
            var p50 = await row.Locator("td[data-metric='p50']").TextContentAsync();
            Assert.True(double.TryParse(p50, System.Globalization.CultureInfo.InvariantCulture, out var ms) && ms > 0, $"p50 '{p50}'");
            var batch = await row.Locator("td[data-metric='batch']").TextContentAsync();
            Assert.True(double.TryParse(batch, System.Globalization.CultureInfo.InvariantCulture, out var size) && size >= 1, $"batch size '{batch}'");
            Assert.True(int.Parse(await page.Locator("#chart-throughput").GetAttributeAsync("data-points") ?? "0", System.Globalization.CultureInfo.InvariantCulture) > 0);
            Assert.True(double.Parse(await page.Locator("#chart-throughput").GetAttributeAsync("data-max") ?? "0", System.Globalization.CultureInfo.InvariantCulture) > 1);
        }
        finally
        {
            if (!bench.WaitForExit(30_000))
            {
                bench.Kill(entireProcessTree: true);
            }
        }

        // After the run: the whole run on the charts, and the rate back to 0.
        await page.WaitForFunctionAsync(
            "() => document.querySelector(\"#live-table tr[data-model='dcgan-mnist'] td[data-metric='throughput']\")?.textContent === '0.0'",
            null,
            new() { Timeout = 15_000, PollingInterval = 100 });
        await Browser.ScreenshotAsync(page, "live");

        Assert.True(bench.ExitCode == 0, $"gan bench exited {bench.ExitCode}:\n{await output}\n{await errors}");
        AssertNoScriptErrors(page);
    }

    [Fact]
    public async Task Every_control_has_an_accessible_name_and_a_phone_width_needs_no_sideways_scrolling()
    {
        foreach (var view in new[] { "models", "generate", "text", "translate", "live" })
        {
            var page = await OpenAsync(view, width: 360, height: 740);
            var unnamed = await page.EvaluateAsync<string[]>(
                """
                () => [...document.querySelectorAll('input, select, textarea, button, a[href], canvas')]
                  .filter(e => e.offsetParent !== null || e.closest('dialog'))
                  .filter(e => {
                    const byLabel = e.labels && [...e.labels].some(l => l.textContent.trim() !== '');
                    const byAria = (e.getAttribute('aria-label') ?? '').trim() !== '' || (e.getAttribute('aria-labelledby') ?? '') !== '';
                    const byText = (e.tagName === 'BUTTON' || e.tagName === 'A') && e.textContent.trim() !== '';
                    return !(byLabel || byAria || byText);
                  })
                  .map(e => e.outerHTML.slice(0, 120))
                """);
            Assert.True(unnamed.Length == 0, $"#{view}: controls without an accessible name:\n{string.Join("\n", unnamed)}");
            var overflow = await page.EvaluateAsync<int>("() => document.documentElement.scrollWidth - window.innerWidth");
            Assert.True(overflow <= 0, $"#{view} at 360 px is {overflow} px wider than the screen");
            if (view is "generate" or "live")
            {
                await Browser.ScreenshotAsync(page, $"phone-{view}");
            }

            AssertNoScriptErrors(page);
            await page.Context.CloseAsync();
        }
    }

    /// <summary>Decodes the images in the browser (canvas) and returns their pixels as the server's RAW_U8 layout (HWC).</summary>
    private static async Task<List<byte[]>> DecodeAsync(ILocator images, int channels)
    {
        var decoded = await images.EvaluateAllAsync<JsonElement>(
            """
            async (imgs, channels) => {
              const out = [];
              for (const img of imgs) {
                await img.decode();
                const c = document.createElement('canvas');
                c.width = img.naturalWidth; c.height = img.naturalHeight;
                const g = c.getContext('2d');
                g.drawImage(img, 0, 0);
                const d = g.getImageData(0, 0, c.width, c.height).data;
                const bytes = [];
                for (let i = 0; i < c.width * c.height; i++) {
                  if (channels === 1) bytes.push(d[i * 4]); else bytes.push(d[i * 4], d[i * 4 + 1], d[i * 4 + 2]);
                }
                out.push(bytes);
              }
              return out;
            }
            """,
            channels);
        return decoded.EnumerateArray().Select(image => image.EnumerateArray().Select(v => (byte)v.GetInt32()).ToArray()).ToList();
    }

    private static void AssertWithinOneLevel(byte[] expected, byte[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        var worst = expected.Zip(actual, (a, b) => Math.Abs(a - b)).Max();
        Assert.True(worst <= 1, $"pixels differ by up to {worst} levels");
    }

    private static double MeanAbsoluteDifference(byte[] a, byte[] b) => a.Zip(b, (x, y) => Math.Abs(x - y)).Average();

    private static void AssertNoScriptErrors(IPage page)
    {
        var errors = Browser.PageErrors.TryGetValue(page, out var list) ? list : [];
        Assert.True(errors.Count == 0, $"script errors: {string.Join("\n", errors)}");
    }
}

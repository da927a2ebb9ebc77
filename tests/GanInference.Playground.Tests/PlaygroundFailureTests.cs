using System.Net;
using GanInference.Playground.Tests.Infrastructure;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace GanInference.Playground.Tests;

/// <summary>One Chromium for the tests that start their own servers.</summary>
public sealed class BrowserFixture : IAsyncLifetime
{
    internal Browser Browser { get; private set; } = null!;

    public async Task InitializeAsync() => Browser = await Browser.LaunchAsync();

    public async Task DisposeAsync() => await Browser.DisposeAsync();
}

/// <summary>Servers that need a key, serve nothing, go away mid-request, or have the playground off.</summary>
public sealed class PlaygroundFailureTests(BrowserFixture fixture) : IClassFixture<BrowserFixture>
{
    private const string Key = "playground-test-key";

    [Fact]
    public async Task A_server_with_keys_gets_a_key_prompt_that_refuses_a_wrong_key_and_sends_the_right_one_on_every_call()
    {
        await using var server = await ServerProcess.StartAsync(Repository.Models, minModels: 8, apiKey: Key, $"--Security:ApiKeys:0={Key}");
        var page = await fixture.Browser.OpenAsync($"{server.HttpAddress}/#models");
        var dialog = page.GetByRole(AriaRole.Dialog, new() { Name = "API key" });
        await Expect(dialog).ToBeVisibleAsync();
        await Browser.ScreenshotAsync(page, "key-prompt");

        await page.GetByRole(AriaRole.Textbox, new() { Name = "API key" }).FillAsync("not-the-key");
        await page.GetByRole(AriaRole.Button, new() { Name = "Use this key" }).ClickAsync();
        await Expect(page.Locator("#key-error")).ToContainTextAsync("the API key is not valid");
        await Expect(dialog).ToBeVisibleAsync();

        var calls = new List<IRequest>();
        page.Request += (_, request) => calls.Add(request);
        await page.GetByRole(AriaRole.Textbox, new() { Name = "API key" }).FillAsync(Key);
        await page.GetByRole(AriaRole.Button, new() { Name = "Use this key" }).ClickAsync();
        await Expect(dialog).ToBeHiddenAsync();
        await Expect(page.Locator("#models-list article.card")).ToHaveCountAsync(8);
        await page.WaitForFunctionAsync("() => document.querySelector(\"article.card[data-model='dcgan-mnist'] img.samples\")?.naturalWidth > 0");

        // Generate with the key remembered: no second prompt, and every call after the key carried it.
        await page.GotoAsync($"{server.HttpAddress}/#generate");
        await page.EvaluateAsync("() => window.gan.ready()");
        await page.Locator("#view-generate").GetByLabel("Count", new() { Exact = true }).FillAsync("4");
        await page.GetByRole(AriaRole.Button, new() { Name = "Generate", Exact = true }).ClickAsync();
        await Expect(page.Locator("#gen-grid img")).ToHaveCountAsync(4);
        await Expect(dialog).ToBeHiddenAsync();
        var apiCalls = calls.Where(r => r.Url.Contains("/v1/", StringComparison.Ordinal) || r.Url.Contains("/playground/samples/", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(apiCalls);
        foreach (var call in apiCalls)
        {
            Assert.Equal($"Bearer {Key}", await call.HeaderValueAsync("authorization"));
        }

        // Cancelling the prompt says so next to what needed it.
        var fresh = await fixture.Browser.OpenAsync($"{server.HttpAddress}/#models");
        await fresh.GetByRole(AriaRole.Button, new() { Name = "Cancel" }).ClickAsync();
        await Expect(fresh.Locator("#connection-error")).ToContainTextAsync("needs an API key");
    }

    [Fact]
    public async Task An_empty_model_folder_says_there_is_nothing_to_serve_in_every_view()
    {
        var empty = Directory.CreateTempSubdirectory("playground-empty-models-");
        try
        {
            await using var server = await ServerProcess.StartAsync(empty.FullName, minModels: 0);
            var page = await fixture.Browser.OpenAsync($"{server.HttpAddress}/#models");
            await Expect(page.Locator("#models-status")).ToContainTextAsync("This server serves no models");
            await Expect(page.Locator("#models-list article")).ToHaveCountAsync(0);
            await Browser.ScreenshotAsync(page, "no-models");

            await page.GotoAsync($"{server.HttpAddress}/#generate");
            await Expect(page.Locator("#gen-model-error")).ToContainTextAsync("no unconditional or class-conditional model");
            await Expect(page.GetByRole(AriaRole.Button, new() { Name = "Generate", Exact = true })).ToBeDisabledAsync();
            await page.GotoAsync($"{server.HttpAddress}/#text");
            await Expect(page.Locator("#text-model-error")).ToContainTextAsync("no text-conditional model");
            await page.GotoAsync($"{server.HttpAddress}/#translate");
            await Expect(page.Locator("#tr-model-error")).ToContainTextAsync("no image-to-image model");
        }
        finally
        {
            empty.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task A_server_killed_mid_request_gives_a_clear_message_in_generate_and_live_and_the_page_stays_usable()
    {
        var server = await ServerProcess.StartAsync(Repository.Models, minModels: 8, apiKey: null, "--Generation:EncodeParallelism=1");
        try
        {
            // A second tab on the live view, polling /metrics.
            var live = await fixture.Browser.OpenAsync($"{server.HttpAddress}/#live");
            await live.GetByLabel("Poll every (seconds)").FillAsync("0.5");
            await live.GetByLabel("Poll every (seconds)").DispatchEventAsync("change");
            await Expect(live.Locator("#live-status")).ToContainTextAsync("points");

            var page = await fixture.Browser.OpenAsync($"{server.HttpAddress}/#generate");
            await page.EvaluateAsync("() => window.gan.ready()");
            await page.Locator("#view-generate").GetByLabel("Model", new() { Exact = true }).SelectOptionAsync("cdcgan-mnist");
            await page.Locator("#view-generate").GetByLabel("Count", new() { Exact = true }).FillAsync("1024");

            // 1,024 PNGs on one inference thread take seconds; the server dies once the request has reached it.
            var sent = page.WaitForRequestAsync(r => r.Url.Contains(":generate", StringComparison.Ordinal));
            await page.GetByRole(AriaRole.Button, new() { Name = "Generate", Exact = true }).ClickAsync();
            await sent;
            await WaitForInflightAsync(server);
            await server.KillAsync();

            await Expect(page.Locator("#gen-submit-error")).ToContainTextAsync("The server did not answer", new() { Timeout = 15_000 });
            await Expect(page.GetByRole(AriaRole.Button, new() { Name = "Generate", Exact = true })).ToBeEnabledAsync();
            await Expect(page.Locator("#gen-status")).ToHaveTextAsync(string.Empty);
            await Browser.ScreenshotAsync(page, "server-gone");
            await Expect(live.Locator("#live-error")).ToContainTextAsync("Could not read metrics: The server did not answer", new() { Timeout = 15_000 });

        }
        finally
        {
            await server.DisposeAsync();
        }
    }

    [Fact]
    public async Task Playground_Enabled_false_serves_no_page_and_leaves_the_rest_of_the_listener()
    {
        var empty = Directory.CreateTempSubdirectory("playground-off-");
        await using var server = await ServerProcess.StartAsync(empty.FullName, minModels: 0, apiKey: null, "--Playground:Enabled=false");
        using var http = new HttpClient { BaseAddress = new Uri(server.HttpAddress) };
        foreach (var path in new[] { "/", "/playground/playground.js", "/playground/config.json", "/playground/samples/cdcgan-mnist.png" })
        {
            using var response = await http.GetAsync(path);
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        }

        using var models = await http.GetAsync("/v1/models");
        Assert.Equal(HttpStatusCode.OK, models.StatusCode);
        using var metrics = await http.GetAsync("/metrics");
        Assert.Equal(HttpStatusCode.OK, metrics.StatusCode);
        empty.Delete(recursive: true);
    }

    private static async Task WaitForInflightAsync(ServerProcess server)
    {
        using var http = new HttpClient();
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (DateTime.UtcNow < deadline)
        {
            var metrics = await http.GetStringAsync($"{server.HttpAddress}/metrics");
            if (metrics.Split('\n').Any(l => l.StartsWith("gan_requests_inflight{", StringComparison.Ordinal) && l.Contains("model=\"cdcgan-mnist\"", StringComparison.Ordinal) && !l.EndsWith(" 0", StringComparison.Ordinal)))
            {
                return;
            }

            await Task.Delay(20);
        }

        throw new InvalidOperationException("the generate request never showed up as in flight");
    }
}

using Microsoft.Playwright;

namespace GanInference.Playground.Tests.Infrastructure;

/// <summary>
/// Debian's Chromium driven by Playwright (its bundled node driver; Playwright's own browser download cannot work
/// here). <c>GAN_CHROMIUM</c> names another executable; tools/test.sh installs the <c>chromium</c> package when missing.
/// </summary>
internal sealed class Browser : IAsyncDisposable
{
    private readonly IPlaywright _playwright;

    private Browser(IPlaywright playwright, IBrowser browser)
    {
        _playwright = playwright;
        Instance = browser;
    }

    public IBrowser Instance { get; }

    /// <summary>Where the screenshots go: screenshots/ in the test output folder.</summary>
    public static string ScreenshotFolder { get; } = Directory.CreateDirectory(Path.Combine(AppContext.BaseDirectory, "screenshots")).FullName;

    public static async Task<Browser> LaunchAsync()
    {
        var executable = Environment.GetEnvironmentVariable("GAN_CHROMIUM") is { Length: > 0 } path ? path : "/usr/bin/chromium";
        if (!File.Exists(executable))
        {
            throw new InvalidOperationException($"no Chromium at {executable}: install Debian's chromium package (tools/test.sh does) or set GAN_CHROMIUM");
        }

        var playwright = await Playwright.CreateAsync();
        var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = executable,
            Headless = true,
            Args = ["--disable-gpu", "--disable-dev-shm-usage"],
        });
        return new Browser(playwright, browser);
    }

    /// <summary>A fresh page (own context: own session storage, so no key carries over) at <paramref name="url"/>.</summary>
    public async Task<IPage> OpenAsync(string url, int width = 1100, int height = 900)
    {
        var context = await Instance.NewContextAsync(new BrowserNewContextOptions { ViewportSize = new ViewportSize { Width = width, Height = height }, AcceptDownloads = true });
        context.SetDefaultTimeout(30_000);
        var page = await context.NewPageAsync();
        var errors = new List<string>();
        page.PageError += (_, message) => errors.Add(message);
        page.Console += (_, message) =>
        {
            if (message.Type == "error" && !message.Text.Contains("Failed to load resource", StringComparison.Ordinal) && !message.Text.Contains("ERR_CONNECTION_REFUSED", StringComparison.Ordinal))
            {
                errors.Add(message.Text);
            }
        };
        PageErrors[page] = errors;
        await page.GotoAsync(url);
        return page;
    }

    /// <summary>Script errors and console errors of a page opened with <see cref="OpenAsync"/>.</summary>
    public static System.Collections.Concurrent.ConcurrentDictionary<IPage, List<string>> PageErrors { get; } = new();

    public static async Task ScreenshotAsync(IPage page, string name, bool fullPage = true) =>
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(ScreenshotFolder, name + ".png"), FullPage = fullPage });

    public async ValueTask DisposeAsync()
    {
        await Instance.DisposeAsync();
        _playwright.Dispose();
    }
}

using System.Globalization;
using SkiaSharp;

namespace GanInference.Cli.Bench;

/// <summary>
/// Draws a run as a PNG: latency of every request over time (failures in red, with per-second p50 and
/// p99 lines) above a histogram of the latencies.
/// </summary>
internal static class BenchPlot
{
    private const int Width = 1200;
    private const int PanelHeight = 420;
    private const int Margin = 70;
    private const int HistogramBins = 60;

    public static byte[] RenderPng(IReadOnlyList<LatencySample> samples, BenchReport report)
    {
        using var surface = SKSurface.Create(new SKImageInfo(Width, (PanelHeight * 2) + 40, SKColorType.Rgba8888, SKAlphaType.Premul))
            ?? throw new CliException("cannot allocate the plot surface.", ExitCodes.Failure);
        var canvas = surface.Canvas;
        canvas.Clear(SKColors.White);
        using var typeface = PlotFonts.Load();
        using var font = new SKFont(typeface, 14);
        using var text = new SKPaint { Color = SKColors.Black, IsAntialias = true };

        var title = $"{report.Model} @ {report.Server}: {(report.Mode == "open" ? $"{report.Rate:F0} req/s open loop" : $"{report.Concurrency} concurrent")}, " +
                    $"{report.ImagesPerRequest} img/req, {report.RequestsPerSecond:F1} req/s, {report.ImagesPerSecond:F1} img/s, " +
                    $"p50 {report.LatencyMs.P50:F2} ms, p99 {report.LatencyMs.P99:F2} ms, max {report.LatencyMs.Max:F2} ms";
        canvas.DrawText(title, Margin, 24, SKTextAlign.Left, font, text);

        var timePanel = new SKRect(Margin, 40 + 20, Width - 20, 40 + PanelHeight - 40);
        var histogramPanel = new SKRect(Margin, 40 + PanelHeight + 20, Width - 20, 40 + (PanelHeight * 2) - 40);
        DrawOverTime(canvas, timePanel, samples, Math.Max(report.ElapsedSeconds, 1e-3), font, text);
        DrawHistogram(canvas, histogramPanel, samples, font, text);

        using var image = surface.Snapshot();
        using var png = image.Encode(SKEncodedImageFormat.Png, 100);
        return png.ToArray();
    }

    private static void DrawOverTime(SKCanvas canvas, SKRect area, IReadOnlyList<LatencySample> samples, double seconds, SKFont font, SKPaint text)
    {
        var maxMs = samples.Count == 0 ? 1 : samples.Max(s => s.LatencyMicroseconds) / 1000.0 * 1.05;
        DrawAxes(canvas, area, "time (s)", "latency (ms)", seconds, maxMs, countAxis: false, font, text);
        using var ok = new SKPaint { Color = new SKColor(30, 100, 200, 90), IsAntialias = true };
        using var failed = new SKPaint { Color = new SKColor(220, 30, 30, 160), IsAntialias = true };
        foreach (var sample in samples)
        {
            var x = area.Left + (float)(sample.CompletedAt / seconds * area.Width);
            var y = area.Bottom - (float)(sample.LatencyMicroseconds / 1000.0 / maxMs * area.Height);
            canvas.DrawCircle(Math.Min(x, area.Right), y, 1.6f, sample.Ok ? ok : failed);
        }

        // Windowed percentiles (about 30 windows per run), so a stall or a slow drift is visible through the cloud of points.
        var window = Math.Max(seconds / 30, 0.05);
        var perSecond = samples.GroupBy(s => (int)(s.CompletedAt / window)).OrderBy(g => g.Key)
            .Select(g =>
            {
                var sorted = g.Select(s => s.LatencyMicroseconds / 1000.0).Order().ToArray();
                return (Second: (g.Key + 0.5) * window, P50: sorted[(int)(0.50 * (sorted.Length - 1))], P99: sorted[(int)(0.99 * (sorted.Length - 1))]);
            }).ToList();
        DrawLine(canvas, area, perSecond.Select(p => (p.Second, p.P50)).ToList(), seconds, maxMs, SKColors.DarkGreen);
        DrawLine(canvas, area, perSecond.Select(p => (p.Second, p.P99)).ToList(), seconds, maxMs, SKColors.DarkOrange);
        using var p50Legend = new SKPaint { Color = SKColors.DarkGreen, IsAntialias = true };
        using var p99Legend = new SKPaint { Color = SKColors.DarkOrange, IsAntialias = true };
        canvas.DrawText("— p50 per window", area.Right - 300, area.Top + 16, SKTextAlign.Left, font, p50Legend);
        canvas.DrawText("— p99 per window", area.Right - 150, area.Top + 16, SKTextAlign.Left, font, p99Legend);
    }

    private static void DrawLine(SKCanvas canvas, SKRect area, List<(double X, double Y)> points, double maxX, double maxY, SKColor color)
    {
        if (points.Count < 2)
        {
            return;
        }

        using var paint = new SKPaint { Color = color, StrokeWidth = 2, IsStroke = true, IsAntialias = true };
        using var path = new SKPath();
        for (var i = 0; i < points.Count; i++)
        {
            var x = area.Left + (float)(Math.Min(points[i].X / maxX, 1) * area.Width);
            var y = area.Bottom - (float)(points[i].Y / maxY * area.Height);
            if (i == 0)
            {
                path.MoveTo(x, y);
            }
            else
            {
                path.LineTo(x, y);
            }
        }

        canvas.DrawPath(path, paint);
    }

    private static void DrawHistogram(SKCanvas canvas, SKRect area, IReadOnlyList<LatencySample> samples, SKFont font, SKPaint text)
    {
        var latencies = samples.Select(s => s.LatencyMicroseconds / 1000.0).Order().ToArray();
        // The axis ends at p99.9 so one outlier does not squash the body; the title states the max.
        var top = latencies.Length == 0 ? 1 : Math.Max(latencies[(int)(0.999 * (latencies.Length - 1))], 1e-3);
        var counts = new long[HistogramBins];
        foreach (var latency in latencies)
        {
            counts[Math.Min((int)(latency / top * HistogramBins), HistogramBins - 1)]++;
        }

        var maxCount = Math.Max(counts.Max(), 1);
        DrawAxes(canvas, area, "latency (ms), last bin includes the tail", "requests", top, maxCount, countAxis: true, font, text);
        using var bar = new SKPaint { Color = new SKColor(30, 100, 200), IsAntialias = false };
        var binWidth = area.Width / HistogramBins;
        for (var i = 0; i < HistogramBins; i++)
        {
            var height = (float)counts[i] / maxCount * area.Height;
            canvas.DrawRect(area.Left + (i * binWidth) + 1, area.Bottom - height, binWidth - 2, height, bar);
        }
    }

    private static void DrawAxes(SKCanvas canvas, SKRect area, string xLabel, string yLabel, double maxX, double maxY, bool countAxis, SKFont font, SKPaint text)
    {
        using var axis = new SKPaint { Color = SKColors.Black, StrokeWidth = 1, IsStroke = true };
        using var grid = new SKPaint { Color = new SKColor(220, 220, 220), StrokeWidth = 1, IsStroke = true };
        for (var i = 0; i <= 5; i++)
        {
            var y = area.Bottom - (area.Height * i / 5f);
            var x = area.Left + (area.Width * i / 5f);
            canvas.DrawLine(area.Left, y, area.Right, y, grid);
            canvas.DrawText(countAxis ? Math.Round(maxY * i / 5).ToString("N0", CultureInfo.InvariantCulture) : Tick(maxY * i / 5), area.Left - 6, y + 5, SKTextAlign.Right, font, text);
            canvas.DrawText(Tick(maxX * i / 5), x, area.Bottom + 18, SKTextAlign.Center, font, text);
        }

        canvas.DrawRect(area, axis);
        canvas.DrawText(xLabel, area.MidX, area.Bottom + 36, SKTextAlign.Center, font, text);
        canvas.Save();
        canvas.RotateDegrees(-90, area.Left - 55, area.MidY);
        canvas.DrawText(yLabel, area.Left - 55, area.MidY, SKTextAlign.Center, font, text);
        canvas.Restore();
    }

    private static string Tick(double value) => value.ToString(value >= 100 ? "F0" : value >= 10 ? "F1" : "F2", CultureInfo.InvariantCulture);
}

/// <summary>
/// A typeface that can draw text. SkiaSharp's no-dependencies native build has no fontconfig, so family
/// lookup can come back empty; then the first TrueType font in the usual system folders is used.
/// </summary>
internal static class PlotFonts
{
    private static readonly string[] FontFolders = ["/usr/share/fonts", "/usr/local/share/fonts", "/Library/Fonts", "C:\\Windows\\Fonts"];

    public static SKTypeface Load()
    {
        var byFamily = SKFontManager.Default.MatchFamily("DejaVu Sans") ?? SKFontManager.Default.MatchFamily("Arial");
        if (byFamily is not null && byFamily.GlyphCount > 0)
        {
            return byFamily;
        }

        byFamily?.Dispose();
        foreach (var folder in FontFolders.Where(Directory.Exists))
        {
            var file = Directory.EnumerateFiles(folder, "*.ttf", SearchOption.AllDirectories)
                .OrderBy(f => Path.GetFileName(f).Contains("Sans", StringComparison.OrdinalIgnoreCase) ? 0 : 1)
                .ThenBy(f => f, StringComparer.Ordinal)
                .FirstOrDefault();
            if (file is not null && SKTypeface.FromFile(file) is { } typeface)
            {
                return typeface;
            }
        }

        return SKTypeface.CreateDefault();
    }
}

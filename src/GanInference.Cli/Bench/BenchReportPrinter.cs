using System.Globalization;
using Spectre.Console;

namespace GanInference.Cli.Bench;

/// <summary>Prints a <see cref="BenchReport"/> the way ghz prints a unary run, plus images/s and the server's batching.</summary>
internal static class BenchReportPrinter
{
    public static void Print(IAnsiConsole console, BenchReport report)
    {
        var mode = report.Mode == "open"
            ? $"open loop at {report.Rate:F1} requests/s"
            : $"closed loop with {report.Concurrency} concurrent requests";
        mode += report.Connections > 1 ? $" over {report.Connections} connections" : string.Empty;
        console.WriteLine($"{report.Rpc} on '{report.Model}' at {report.Server}: {mode}, {report.ImagesPerRequest} {report.Format} image(s) per request, {report.WarmupSeconds.ToString("0.###", CultureInfo.InvariantCulture)}s warmup, {report.DurationSeconds.ToString("0.###", CultureInfo.InvariantCulture)}s measured");
        console.WriteLine($"server: {report.ExecutionProvider}, max batch {report.ServerMaxBatchSize}, max queue delay {report.ServerMaxQueueDelayMs:G4} ms");
        console.WriteLine();

        var summary = new Table().Border(TableBorder.Rounded).Title("Summary").AddColumn("").AddColumn(new TableColumn("").RightAligned()).HideHeaders();
        summary.AddRow("Count (sent)", report.Sent.ToString("N0", CultureInfo.InvariantCulture));
        summary.AddRow("Succeeded / failed", $"{report.Succeeded:N0} / {report.Failed:N0}");
        summary.AddRow("Total", $"{report.ElapsedSeconds:F2} s");
        summary.AddRow("Slowest", Ms(report.LatencyMs.Max));
        summary.AddRow("Fastest", Ms(report.LatencyMs.Min));
        summary.AddRow("Average", Ms(report.LatencyMs.Mean));
        summary.AddRow("Std dev", Ms(report.LatencyMs.StdDev));
        summary.AddRow("Requests/s", report.RequestsPerSecond.ToString("F1", CultureInfo.InvariantCulture));
        summary.AddRow("Images/s", report.ImagesPerSecond.ToString("F1", CultureInfo.InvariantCulture));
        if (report.Ceiling is { } ceiling)
        {
            summary.AddRow("Ceiling (in-process)", $"{ceiling.BestImagesPerSecond:F1} images/s at batch {ceiling.BestBatch}");
            summary.AddRow("Ratio to ceiling", $"{ceiling.Ratio:P1}");
            if (ceiling.SameBatchImagesPerSecond is { } sameBatch)
            {
                summary.AddRow($"Ratio to ceiling at batch {report.ImagesPerRequest}", $"{ceiling.SameBatchRatio:P1} of {sameBatch:F1} images/s");
            }
        }

        var latency = new Table().Border(TableBorder.Rounded).Title("Latency distribution").AddColumn("Percentile").AddColumn(new TableColumn("Latency").RightAligned());
        foreach (var (name, value) in new[]
                 {
                     ("p10", report.LatencyMs.P10), ("p25", report.LatencyMs.P25), ("p50", report.LatencyMs.P50), ("p75", report.LatencyMs.P75),
                     ("p90", report.LatencyMs.P90), ("p95", report.LatencyMs.P95), ("p99", report.LatencyMs.P99), ("p99.9", report.LatencyMs.P999),
                     ("max", report.LatencyMs.Max),
                 })
        {
            latency.AddRow(name, Ms(value));
        }

        console.Write(new Columns(summary, latency).Collapse());

        if (report.LatencyHistogram.Count > 0)
        {
            var chart = new BarChart().Label("Response time histogram (ms)").Width(80);
            foreach (var bucket in report.LatencyHistogram)
            {
                chart.AddItem(bucket.UpToMs.ToString("F2", CultureInfo.InvariantCulture), bucket.Count, Color.Green);
            }

            console.Write(chart);
        }

        var status = new Table().Border(TableBorder.Rounded).Title("Status codes").AddColumn("Status").AddColumn(new TableColumn("Responses").RightAligned());
        foreach (var (code, count) in report.StatusCodes.OrderByDescending(s => s.Value))
        {
            status.AddRow(code, count.ToString("N0", CultureInfo.InvariantCulture));
        }

        console.Write(status);
        if (report.Errors.Count > 0)
        {
            var errors = new Table().Border(TableBorder.Rounded).Title("Errors").AddColumn("Error").AddColumn(new TableColumn("Count").RightAligned());
            foreach (var (message, count) in report.Errors.OrderByDescending(e => e.Value))
            {
                errors.AddRow(Markup.Escape(message), count.ToString("N0", CultureInfo.InvariantCulture));
            }

            console.Write(errors);
        }

        PrintServerSide(console, report.ServerMetrics);
    }

    private static void PrintServerSide(IAnsiConsole console, ServerSide server)
    {
        if (server.Error is not null)
        {
            console.WriteLine($"Server metrics unavailable: {server.Error}");
            return;
        }

        if (server.Runtime is { } runtime)
        {
            static string Count(double? value) => value is { } v ? v.ToString("N0", CultureInfo.InvariantCulture) : "?";
            console.WriteLine(
                $"Server runtime during the measured phase: {Count(runtime.AllocatedBytes / 1e6)} MB allocated"
                + (runtime.AllocatedBytesPerImage is { } perImage ? $" ({perImage.ToString("N0", CultureInfo.InvariantCulture)} bytes per image received)" : string.Empty)
                + $"; GC: {Count(runtime.Gen0Collections)} gen0, {Count(runtime.Gen1Collections)} gen1, {Count(runtime.Gen2Collections)} gen2 collections, "
                + $"paused {(runtime.GcPauseMs is { } ms ? ms.ToString("F1", CultureInfo.InvariantCulture) : "?")} ms"
                + (runtime.GcPauseShare is { } share ? $" ({share * 100:F2} % of the run)" : string.Empty)
                + (runtime.WorkingSetBytes is { } ws ? $"; working set {ws / 1e6:F0} MB at the end" : string.Empty) + ".");
        }

        if (server.Histograms.Count == 0)
        {
            console.WriteLine($"Server metrics: no batch-size or queue histograms at {server.MetricsUrl}.");
            return;
        }

        var table = new Table().Border(TableBorder.Rounded).Title($"Server-side during the measured phase ({Markup.Escape(server.MetricsUrl)})")
            .AddColumn("Histogram").AddColumn(new TableColumn("Count").RightAligned()).AddColumn(new TableColumn("Mean").RightAligned())
            .AddColumn(new TableColumn("p50").RightAligned()).AddColumn(new TableColumn("p90").RightAligned()).AddColumn(new TableColumn("p99").RightAligned())
            .AddColumn("Buckets (≤ bound: count)");
        foreach (var histogram in server.Histograms)
        {
            var buckets = string.Join("  ", histogram.Buckets.Select(b =>
                $"{(b.UpTo is { } upTo ? "≤" + upTo.ToString("G4", CultureInfo.InvariantCulture) : ">")}: {b.Count:N0}"));
            table.AddRow(
                Markup.Escape($"{histogram.Name} ({histogram.Unit})"),
                histogram.Count.ToString("N0", CultureInfo.InvariantCulture),
                histogram.Mean.ToString("F2", CultureInfo.InvariantCulture),
                Markup.Escape(histogram.P50.ToString()),
                Markup.Escape(histogram.P90.ToString()),
                Markup.Escape(histogram.P99.ToString()),
                Markup.Escape(buckets));
        }

        console.Write(table);
        console.WriteLine("Percentiles are exact where the bucket bounds pin them, else shown as the bucket (lower, upper] they fall in; the mean is exact.");
    }

    private static string Ms(double value) => value.ToString("F2", CultureInfo.InvariantCulture) + " ms";

    public static void PrintCeiling(IAnsiConsole console, CeilingReport report)
    {
        var table = new Table().Border(TableBorder.Rounded)
            .Title(report.Kind == BenchKinds.Translate
                ? $"In-process ceiling (decode + ONNX Runtime + {Markup.Escape(report.Format ?? "PNG")} encode): {Markup.Escape(report.Model)} on {Markup.Escape(report.Provider)}"
                : $"In-process ONNX Runtime ceiling ({report.Kind}): {Markup.Escape(report.Model)} on {Markup.Escape(report.Provider)}"
                )
            .AddColumn(new TableColumn("Batch").RightAligned()).AddColumn(new TableColumn("Runs").RightAligned())
            .AddColumn(new TableColumn("Images/s").RightAligned()).AddColumn(new TableColumn("Runs/s").RightAligned())
            .AddColumn(new TableColumn("p50 run").RightAligned()).AddColumn(new TableColumn("p99 run").RightAligned());
        foreach (var r in report.Results)
        {
            table.AddRow(
                r.Batch.ToString(CultureInfo.InvariantCulture),
                r.Runs.ToString("N0", CultureInfo.InvariantCulture),
                r.ImagesPerSecond.ToString("F1", CultureInfo.InvariantCulture),
                r.RunsPerSecond.ToString("F1", CultureInfo.InvariantCulture),
                r.P50Ms.ToString("F3", CultureInfo.InvariantCulture) + " ms",
                r.P99Ms.ToString("F3", CultureInfo.InvariantCulture) + " ms");
        }

        console.Write(table);
        if (report.ParallelRuns > 1)
        {
            console.WriteLine($"{report.ParallelRuns} runs in flight at once on the one session: images/s and runs/s are their sums, p50 and p99 the slowest copy's.");
        }
    }
}

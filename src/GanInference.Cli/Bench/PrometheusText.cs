using System.Globalization;
using System.Text;

namespace GanInference.Cli.Bench;

/// <summary>
/// A histogram read from Prometheus text exposition: cumulative buckets by upper bound, sum and count.
/// </summary>
/// <param name="Name">Metric family name, e.g. <c>gan_batch_size</c>.</param>
/// <param name="Labels">The series' labels other than <c>le</c>.</param>
internal sealed record PrometheusHistogram(string Name, IReadOnlyDictionary<string, string> Labels, IReadOnlyList<HistogramBucket> Buckets, double Sum, double Count)
{
    /// <summary>This histogram minus an earlier scrape of the same series: what happened in between.</summary>
    public PrometheusHistogram Minus(PrometheusHistogram? earlier)
    {
        if (earlier is null)
        {
            return this;
        }

        var before = earlier.Buckets.ToDictionary(b => b.UpperBound, b => b.CumulativeCount);
        var buckets = Buckets.Select(b => b with { CumulativeCount = b.CumulativeCount - before.GetValueOrDefault(b.UpperBound) }).ToList();
        return this with { Buckets = buckets, Sum = Sum - earlier.Sum, Count = Count - earlier.Count };
    }

    /// <summary>Adds two series with the same bucket bounds (e.g. the same model under two rpc labels).</summary>
    public PrometheusHistogram Plus(PrometheusHistogram other)
    {
        var theirs = other.Buckets.ToDictionary(b => b.UpperBound, b => b.CumulativeCount);
        var buckets = Buckets.Select(b => b with { CumulativeCount = b.CumulativeCount + theirs.GetValueOrDefault(b.UpperBound) }).ToList();
        return this with { Buckets = buckets, Sum = Sum + other.Sum, Count = Count + other.Count };
    }

    /// <summary>
    /// The q-quantile, interpolated linearly inside its bucket as Prometheus' histogram_quantile does;
    /// NaN when empty.
    /// </summary>
    public double Quantile(double q)
    {
        if (Count <= 0)
        {
            return double.NaN;
        }

        var rank = q * Count;
        var previousBound = 0.0;
        var previousCount = 0.0;
        foreach (var bucket in Buckets)
        {
            if (bucket.CumulativeCount >= rank)
            {
                if (double.IsPositiveInfinity(bucket.UpperBound))
                {
                    return previousBound;
                }

                var inBucket = bucket.CumulativeCount - previousCount;
                var fraction = inBucket <= 0 ? 1 : (rank - previousCount) / inBucket;
                return previousBound + ((bucket.UpperBound - previousBound) * fraction);
            }

            previousBound = bucket.UpperBound;
            previousCount = bucket.CumulativeCount;
        }

        return previousBound;
    }

    /// <summary>
    /// The bucket that holds the q-quantile: it lies above <c>Lower</c> and at most <c>Upper</c> (+∞ for the last
    /// bucket); null when empty. Unlike <see cref="Quantile"/> this claims nothing the buckets do not show.
    /// </summary>
    public (double Lower, double Upper, double InBucket)? QuantileBucket(double q)
    {
        if (Count <= 0)
        {
            return null;
        }

        var rank = Math.Max(q * Count, double.Epsilon);
        var previousBound = 0.0;
        var previousCount = 0.0;
        foreach (var bucket in Buckets)
        {
            if (bucket.CumulativeCount >= rank && bucket.CumulativeCount > previousCount)
            {
                return (previousBound, bucket.UpperBound, bucket.CumulativeCount - previousCount);
            }

            previousBound = bucket.UpperBound;
            previousCount = bucket.CumulativeCount;
        }

        return (previousBound, double.PositiveInfinity, 0);
    }

    public string SeriesKey => Name + "{" + string.Join(",", Labels.OrderBy(l => l.Key, StringComparer.Ordinal).Select(l => $"{l.Key}={l.Value}")) + "}";
}

/// <param name="UpperBound">The bucket's <c>le</c>; +∞ for the last.</param>
/// <param name="CumulativeCount">Observations ≤ the bound.</param>
internal readonly record struct HistogramBucket(double UpperBound, double CumulativeCount);

/// <summary>Parses the histograms out of a Prometheus text-format scrape (version 0.0.4).</summary>
internal static class PrometheusText
{
    public static IReadOnlyList<PrometheusHistogram> ParseHistograms(string text)
    {
        var histogramNames = new HashSet<string>(StringComparer.Ordinal);
        var series = new Dictionary<string, SeriesBuilder>(StringComparer.Ordinal);
        foreach (var rawLine in text.Split('\n'))
        {
            var line = rawLine.Trim();
            if (line.StartsWith("# TYPE ", StringComparison.Ordinal))
            {
                var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (parts.Length >= 4 && parts[3] == "histogram")
                {
                    histogramNames.Add(parts[2]);
                }

                continue;
            }

            if (line.Length == 0 || line[0] == '#' || !TryParseSample(line, out var name, out var labels, out var value))
            {
                continue;
            }

            var (family, part) = name switch
            {
                _ when name.EndsWith("_bucket", StringComparison.Ordinal) => (name[..^7], "bucket"),
                _ when name.EndsWith("_sum", StringComparison.Ordinal) => (name[..^4], "sum"),
                _ when name.EndsWith("_count", StringComparison.Ordinal) => (name[..^6], "count"),
                _ => (name, string.Empty),
            };
            if (part.Length == 0 || !(histogramNames.Contains(family) || (part == "bucket" && labels.ContainsKey("le"))))
            {
                continue;
            }

            labels.Remove("le", out var le);
            var key = family + "{" + string.Join(",", labels.OrderBy(l => l.Key, StringComparer.Ordinal).Select(l => $"{l.Key}={l.Value}")) + "}";
            if (!series.TryGetValue(key, out var builder))
            {
                builder = new SeriesBuilder(family, labels);
                series.Add(key, builder);
            }

            switch (part)
            {
                case "bucket" when le is not null && TryParseValue(le, out var bound):
                    builder.Buckets.Add(new HistogramBucket(bound, value));
                    break;
                case "sum":
                    builder.Sum = value;
                    break;
                case "count":
                    builder.Count = value;
                    break;
            }
        }

        return series.Values
            .Where(s => s.Buckets.Count > 0)
            .Select(s => new PrometheusHistogram(s.Name, s.Labels, [.. s.Buckets.OrderBy(b => b.UpperBound)], s.Sum, s.Count))
            .ToList();
    }

    /// <summary>
    /// The value of each sample whose name is in <paramref name="names"/>, keyed by the name and, when it has them, its
    /// labels other than the OpenTelemetry scope (<c>name{label=value}</c>): counters and gauges, read as they are.
    /// </summary>
    public static IReadOnlyDictionary<string, double> ParseSamples(string text, IReadOnlyCollection<string> names)
    {
        var samples = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var rawLine in text.Split('\n'))
        {
            var line = rawLine.Trim();
            if (line.Length == 0 || line[0] == '#' || !TryParseSample(line, out var name, out var labels, out var value) || !names.Contains(name))
            {
                continue;
            }

            labels.Remove("otel_scope_name");
            var key = labels.Count == 0 ? name : name + "{" + string.Join(",", labels.OrderBy(l => l.Key, StringComparer.Ordinal).Select(l => $"{l.Key}={l.Value}")) + "}";
            samples[key] = value;
        }

        return samples;
    }

    /// <summary><c>name{a="x",b="y"} value [timestamp]</c>, with escaped label values.</summary>
    internal static bool TryParseSample(string line, out string name, out Dictionary<string, string> labels, out double value)
    {
        labels = new Dictionary<string, string>(StringComparer.Ordinal);
        value = 0;
        var i = 0;
        while (i < line.Length && line[i] != '{' && line[i] != ' ' && line[i] != '\t')
        {
            i++;
        }

        name = line[..i];
        if (i < line.Length && line[i] == '{')
        {
            i++;
            while (i < line.Length && line[i] != '}')
            {
                var eq = line.IndexOf('=', i);
                if (eq < 0 || eq + 1 >= line.Length || line[eq + 1] != '"')
                {
                    return false;
                }

                var labelName = line[i..eq].Trim().TrimStart(',').Trim();
                var sb = new StringBuilder();
                var j = eq + 2;
                for (; j < line.Length && line[j] != '"'; j++)
                {
                    if (line[j] == '\\' && j + 1 < line.Length)
                    {
                        j++;
                        sb.Append(line[j] == 'n' ? '\n' : line[j]);
                    }
                    else
                    {
                        sb.Append(line[j]);
                    }
                }

                if (j >= line.Length)
                {
                    return false;
                }

                labels[labelName] = sb.ToString();
                i = j + 1;
                while (i < line.Length && (line[i] == ',' || line[i] == ' '))
                {
                    i++;
                }
            }

            i++;
        }

        var rest = line[Math.Min(i, line.Length)..].Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return name.Length > 0 && rest.Length >= 1 && TryParseValue(rest[0], out value);
    }

    private static bool TryParseValue(string text, out double value)
    {
        switch (text)
        {
            case "+Inf":
                value = double.PositiveInfinity;
                return true;
            case "-Inf":
                value = double.NegativeInfinity;
                return true;
            case "NaN":
                value = double.NaN;
                return true;
            default:
                return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out value);
        }
    }

    private sealed class SeriesBuilder(string name, Dictionary<string, string> labels)
    {
        public string Name { get; } = name;

        public Dictionary<string, string> Labels { get; } = labels;

        public List<HistogramBucket> Buckets { get; } = [];

        public double Sum { get; set; }

        public double Count { get; set; }
    }
}

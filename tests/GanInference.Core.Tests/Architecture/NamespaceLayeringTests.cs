using System.Text.RegularExpressions;

namespace GanInference.Core.Tests.Architecture;

/// <summary>
/// Keeps the namespaces of <c>src/GanInference.Core</c> in one direction (docs/architecture.md, "Layers"): each
/// folder may use only the folders below it in <see cref="Layers"/>, so there is no cycle and Core reads bottom-up.
/// The source is read as text: <c>using GanInference.Core.X</c> lines, fully-qualified <c>GanInference.Core.X</c>
/// references and partly-qualified ones (<c>X.SomeType</c>, where SomeType is declared in <c>X</c>).
/// </summary>
public sealed partial class NamespaceLayeringTests
{
    /// <summary>Core's folders, bottom-up: each may import only the ones before it.</summary>
    internal static readonly string[] Layers =
    [
        // Leaves: no Core imports.
        "Errors",
        "Telemetry",
        "Sampling",

        // Request limits, then images (codec, decoder, resampler, reply budget).
        "Limits",
        "Imaging",

        // Descriptions: the tokenizer, gan.json, the checked signature of a model.
        "Text",
        "Manifests",
        "Models",

        // Execution: the batch queue, then the runners and engines it drives.
        "Batching",
        "Runtime",

        // The served models: snapshot, leases, loading folders.
        "Repository",

        // Request engines, which take leases from the repository.
        "Translation",
        "TextGeneration",
        "Generation",
    ];

    [Fact]
    public void Core_namespaces_import_each_other_without_cycles()
    {
        var graph = ReadCore().Graph;
        var cycles = FindCycles(graph);
        Assert.True(cycles.Count == 0, "GanInference.Core namespaces import each other in a cycle:\n" + string.Join('\n', cycles));
    }

    [Fact]
    public void Core_namespaces_import_only_lower_layers()
    {
        var core = ReadCore();
        var problems = new List<string>();
        foreach (var ns in core.Graph.Keys.Order(StringComparer.Ordinal))
        {
            if (!Layers.Contains(ns))
            {
                problems.Add($"GanInference.Core.{ns} is not in NamespaceLayeringTests.Layers: give it its place in the layer order (and in docs/architecture.md)");
            }
        }

        foreach (var layer in Layers)
        {
            if (!core.Graph.ContainsKey(layer))
            {
                problems.Add($"NamespaceLayeringTests.Layers lists {layer}, but src/GanInference.Core has no such namespace");
            }
        }

        foreach (var (ns, uses) in core.Graph.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            var own = Array.IndexOf(Layers, ns);
            foreach (var used in uses.Order(StringComparer.Ordinal))
            {
                var other = Array.IndexOf(Layers, used);
                if (own >= 0 && other >= own)
                {
                    problems.Add(
                        $"{ns} (layer {own}) imports {used} (layer {other}), which is not below it, in {string.Join(", ", core.Evidence[(ns, used)].Order(StringComparer.Ordinal))}");
                }
            }
        }

        Assert.True(problems.Count == 0, string.Join('\n', problems) + "\nLayer order, bottom-up: " + string.Join(" < ", Layers));
    }

    [Fact]
    public void Every_Core_file_declares_the_namespace_of_its_folder()
    {
        var problems = ReadCore().Files
            .Where(f => f.Namespace != f.Folder)
            .Select(f => $"{f.Path}: namespace GanInference.Core.{f.Namespace}, folder {f.Folder}")
            .ToList();
        Assert.True(problems.Count == 0, string.Join('\n', problems));
    }

    [Fact]
    public void The_cycle_finder_names_a_cycle()
    {
        var graph = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal)
        {
            ["Repository"] = ["Generation", "Errors"],
            ["Generation"] = ["Repository"],
            ["Errors"] = [],
        };
        Assert.Equal(["Repository -> Generation -> Repository"], FindCycles(graph));
    }

    /// <summary>Every shortest cycle through each namespace, as "A -> B -> A", each cycle once.</summary>
    internal static List<string> FindCycles(IReadOnlyDictionary<string, HashSet<string>> graph)
    {
        var cycles = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var start in graph.Keys.OrderBy(k => Array.IndexOf(Layers, k) is var i and >= 0 ? i : int.MaxValue).ThenBy(k => k, StringComparer.Ordinal))
        {
            foreach (var next in graph[start].Order(StringComparer.Ordinal))
            {
                if (ShortestPath(graph, next, start) is not { } path)
                {
                    continue;
                }

                List<string> cycle = [start, .. path];
                var members = cycle.Take(cycle.Count - 1).ToList();
                var key = string.Join(',', members.Order(StringComparer.Ordinal)) + "|" + Canonical(members);
                if (seen.Add(key))
                {
                    cycles.Add(string.Join(" -> ", cycle));
                }
            }
        }

        return cycles;
    }

    private static string Canonical(List<string> members)
    {
        var first = members.IndexOf(members.Min(StringComparer.Ordinal)!);
        return string.Join("->", members.Skip(first).Concat(members.Take(first)));
    }

    private static List<string>? ShortestPath(IReadOnlyDictionary<string, HashSet<string>> graph, string from, string to)
    {
        var previous = new Dictionary<string, string?>(StringComparer.Ordinal) { [from] = null };
        var queue = new Queue<string>([from]);
        while (queue.TryDequeue(out var node))
        {
            if (node == to)
            {
                var path = new List<string>();
                for (string? at = to; at is not null; at = previous[at])
                {
                    path.Add(at);
                }

                path.Reverse();
                return path;
            }

            foreach (var next in graph.GetValueOrDefault(node, []).Order(StringComparer.Ordinal))
            {
                if (previous.TryAdd(next, node))
                {
                    queue.Enqueue(next);
                }
            }
        }

        return null;
    }

    private sealed record CoreFile(string Path, string Folder, string Namespace, string Text);

    private sealed record CoreSource(
        List<CoreFile> Files,
        Dictionary<string, HashSet<string>> Graph,
        Dictionary<(string From, string To), HashSet<string>> Evidence);

    private static CoreSource ReadCore()
    {
        var root = FindRepoRoot();
        var core = Path.Combine(root, "src", "GanInference.Core");
        var files = new List<CoreFile>();
        foreach (var path in Directory.EnumerateFiles(core, "*.cs", SearchOption.AllDirectories))
        {
            var relative = Path.GetRelativePath(core, path).Replace('\\', '/');
            if (relative.StartsWith("obj/", StringComparison.Ordinal) || relative.StartsWith("bin/", StringComparison.Ordinal))
            {
                continue;
            }

            var text = File.ReadAllText(path);
            var declared = NamespaceDeclaration().Match(text);
            var ns = declared.Success ? declared.Groups[1].Value : string.Empty;
            var folder = relative.Contains('/', StringComparison.Ordinal) ? relative[..relative.IndexOf('/', StringComparison.Ordinal)] : string.Empty;
            files.Add(new CoreFile(relative, folder, ns, text));
        }

        Assert.NotEmpty(files);

        // Types declared in each namespace, to spot partly-qualified references such as Imaging.ImageEncoding.
        var typesByNamespace = files
            .GroupBy(f => f.Namespace, StringComparer.Ordinal)
            .ToDictionary(
                g => g.Key,
                g => g.SelectMany(f => TypeDeclaration().Matches(f.Text).Select(m => m.Groups[1].Value)).ToHashSet(StringComparer.Ordinal),
                StringComparer.Ordinal);

        var graph = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
        var evidence = new Dictionary<(string, string), HashSet<string>>();
        foreach (var file in files)
        {
            var uses = graph.TryGetValue(file.Namespace, out var set) ? set : graph[file.Namespace] = new HashSet<string>(StringComparer.Ordinal);
            var body = NamespaceDeclaration().Replace(file.Text, string.Empty);
            var used = QualifiedReference().Matches(body).Select(m => m.Groups[1].Value).ToList();
            foreach (Match match in PartlyQualifiedReference().Matches(body))
            {
                var (ns, type) = (match.Groups[1].Value, match.Groups[2].Value);
                if (typesByNamespace.TryGetValue(ns, out var types) && types.Contains(type))
                {
                    used.Add(ns);
                }
            }

            foreach (var ns in used.Where(u => u != file.Namespace && typesByNamespace.ContainsKey(u)))
            {
                uses.Add(ns);
                if (!evidence.TryGetValue((file.Namespace, ns), out var where))
                {
                    evidence[(file.Namespace, ns)] = where = new HashSet<string>(StringComparer.Ordinal);
                }

                where.Add(file.Path);
            }
        }

        return new CoreSource(files, graph, evidence);
    }

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "GanInference.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"no GanInference.sln above {AppContext.BaseDirectory}");
    }

    [GeneratedRegex(@"^\s*namespace\s+GanInference\.Core\.(\w+)\s*[;{]", RegexOptions.Multiline)]
    private static partial Regex NamespaceDeclaration();

    [GeneratedRegex(@"\bGanInference\.Core\.([A-Z]\w*)")]
    private static partial Regex QualifiedReference();

    [GeneratedRegex(@"(?<![\w.])([A-Z]\w*)\.([A-Z]\w*)")]
    private static partial Regex PartlyQualifiedReference();

    [GeneratedRegex(@"\b(?:class|struct|interface|enum|record)\s+(?:struct\s+|class\s+)?([A-Z]\w*)")]
    private static partial Regex TypeDeclaration();
}

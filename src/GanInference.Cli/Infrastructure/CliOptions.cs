using System.CommandLine;
using System.CommandLine.Parsing;
using GanInference.Api.V1;

namespace GanInference.Cli;

/// <summary>Factories for options whose values need the parsers in <see cref="ValueParsers"/>.</summary>
internal static class CliOptions
{
    // Defaults as a user types them ("30s", "png", "1,8,32,64"), shown by help instead of TimeSpan/enum/array ToString().
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<Option, string> DisplayDefaults = new();

    /// <summary>Makes help show each option's default in the syntax the option accepts.</summary>
    public static void ApplyHelpDefaults(Command root)
    {
        if (root.Options.OfType<System.CommandLine.Help.HelpOption>().FirstOrDefault() is { Action: { } original } helpOption)
        {
            var displays = new List<(string Name, string Display)>();
            foreach (var option in Commands(root).SelectMany(c => c.Options))
            {
                if (DisplayDefaults.TryGetValue(option, out var display))
                {
                    displays.Add((option.Name, display));
                }
            }

            helpOption.Action = new DisplayDefaultsHelpAction(original, displays);
        }
    }

    /// <summary>System.CommandLine's help (its builder is not public in 2.0), with each option's "[default: ...]" rewritten.</summary>
    private sealed class DisplayDefaultsHelpAction(System.CommandLine.Invocation.CommandLineAction original, IReadOnlyList<(string Name, string Display)> displays)
        : System.CommandLine.Invocation.SynchronousCommandLineAction
    {
        public override int Invoke(ParseResult parseResult)
        {
            var configuration = parseResult.InvocationConfiguration;
            var output = configuration.Output;
            using var captured = new StringWriter();
            configuration.Output = captured;
            int exitCode;
            try
            {
                exitCode = original is System.CommandLine.Invocation.SynchronousCommandLineAction synchronous ? synchronous.Invoke(parseResult) : 0;
            }
            finally
            {
                configuration.Output = output;
            }

            var lines = captured.ToString().Split('\n');
            for (var i = 0; i < lines.Length; i++)
            {
                var trimmed = lines[i].TrimStart();
                foreach (var (name, display) in displays)
                {
                    var start = lines[i].LastIndexOf("[default: ", StringComparison.Ordinal);
                    if (start >= 0 && (trimmed.StartsWith(name + " ", StringComparison.Ordinal) || trimmed.Contains(", " + name + " ", StringComparison.Ordinal)))
                    {
                        lines[i] = lines[i][..start] + $"[default: {display}]";
                        break;
                    }
                }
            }

            output.Write(string.Join('\n', lines));
            return exitCode;
        }
    }

    private static IEnumerable<Command> Commands(Command command) => [command, .. command.Subcommands.SelectMany(Commands)];

    public static Option<TimeSpan> Duration(string name, string description, TimeSpan defaultValue) => WithDisplay(new Option<TimeSpan>(name)
    {
        HelpName = "duration",
        Description = description,
        DefaultValueFactory = _ => defaultValue,
        CustomParser = result => Parse<TimeSpan>(result, ValueParsers.TryParseDuration, "a duration such as 30s, 500ms or 2m"),
    }, CommandRunner.FormatDuration(defaultValue));

    public static Option<int[]> IntList(string name, string description, int[] defaultValue) => WithDisplay(new Option<int[]>(name)
    {
        HelpName = "n,n,...",
        Description = description,
        DefaultValueFactory = _ => defaultValue,
        CustomParser = result => Parse<int[]>(result, ValueParsers.TryParseIntList, "comma-separated integers such as 1,8,32"),
    }, string.Join(',', defaultValue));

    private static T WithDisplay<T>(T option, string display)
        where T : Option
    {
        DisplayDefaults.AddOrUpdate(option, display);
        return option;
    }

    public static Option<ImageFormat> Format(string description, ImageFormat defaultValue, params string[] allowed)
    {
        var option = new Option<ImageFormat>("--format")
        {
            HelpName = string.Join('|', allowed),
            Description = description,
            DefaultValueFactory = _ => defaultValue,
            CustomParser = result =>
            {
                var value = Parse<ImageFormat>(result, ValueParsers.TryParseFormat, string.Join(", ", allowed));
                if (result.Errors.Any() || allowed.Contains(ValueParsers.FormatName(value)))
                {
                    return value;
                }

                result.AddError($"--format must be one of {string.Join(", ", allowed)}, not '{result.Tokens[0].Value}'.");
                return value;
            },
        };
        return WithDisplay(option, ValueParsers.FormatName(defaultValue));
    }

    public static Option<int> Positive(string name, string description, int defaultValue)
    {
        var option = new Option<int>(name) { Description = description, DefaultValueFactory = _ => defaultValue };
        option.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int>() < 1)
            {
                result.AddError($"{name} must be at least 1.");
            }
        });
        return option;
    }

    private delegate bool TryParse<T>(string text, out T value);

    private static T Parse<T>(ArgumentResult result, TryParse<T> tryParse, string expected)
    {
        var text = string.Join(',', result.Tokens.Select(t => t.Value));
        if (tryParse(text, out var value))
        {
            return value;
        }

        var name = result.Parent is OptionResult option ? option.Option.Name : "value";
        result.AddError($"{name}: '{text}' is not {expected}.");
        return default!;
    }
}

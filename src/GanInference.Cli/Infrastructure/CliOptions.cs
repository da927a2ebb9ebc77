using System.CommandLine;
using System.CommandLine.Parsing;
using GanInference.Api.V1;

namespace GanInference.Cli;

/// <summary>Factories for options whose values need the parsers in <see cref="ValueParsers"/>.</summary>
internal static class CliOptions
{
    public static Option<TimeSpan> Duration(string name, string description, TimeSpan defaultValue) => new(name)
    {
        HelpName = "duration",
        Description = description,
        DefaultValueFactory = _ => defaultValue,
        CustomParser = result => Parse<TimeSpan>(result, ValueParsers.TryParseDuration, "a duration such as 30s, 500ms or 2m"),
    };

    public static Option<int[]> IntList(string name, string description, int[] defaultValue) => new(name)
    {
        HelpName = "n,n,...",
        Description = description,
        DefaultValueFactory = _ => defaultValue,
        CustomParser = result => Parse<int[]>(result, ValueParsers.TryParseIntList, "comma-separated integers such as 1,8,32"),
    };

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
        return option;
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

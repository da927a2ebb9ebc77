using GanInference.Server;
using Microsoft.Extensions.Options;

// Serves models/ (relative to the current directory) on the configured URLs; see GanServer and appsettings.json.
// Exit codes: 0 stopped normally; 2 configuration refused at start (one line naming the key); 1 any other start-up failure.
WebApplication app;
try
{
    app = GanServer.Create(args);

    // Checked here, before the host starts, so a bad value is one line on stderr, not a logged stack trace.
    app.Services.GetService<IStartupValidator>()?.Validate();
}
catch (Exception ex) when (ex is OptionsValidationException or FormatException || IsUnconvertibleValue(ex))
{
    await Console.Error.WriteLineAsync($"gan-server: configuration refused: {ex.Message}");
    return 2;
}

await using (app)
{
    try
    {
        await app.StartAsync();
    }
    catch (Exception ex) when (ex is OptionsValidationException or IOException or InvalidOperationException)
    {
        await Console.Error.WriteLineAsync($"gan-server: could not start: {ex.Message}");
        return ex is OptionsValidationException ? 2 : 1;
    }

    await app.WaitForShutdownAsync();
}

return 0;

// The configuration binder's error for a value of the wrong type ("Failed to convert configuration value 'maybe' at
// 'Playground:Enabled' to type 'System.Boolean'."): it names the key and the value, so it is a refusal like the others.
static bool IsUnconvertibleValue(Exception ex) =>
    ex is InvalidOperationException && ex.Message.StartsWith("Failed to convert configuration value", StringComparison.Ordinal);

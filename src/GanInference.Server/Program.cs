using GanInference.Server;

// Serves models/ (relative to the current directory) on the configured URLs; see GanServer and appsettings.json.
await using var app = GanServer.Create(args);
await app.RunAsync();

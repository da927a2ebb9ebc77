using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace GanInference.Server.Tests.Infrastructure;

/// <summary>
/// Keeps a server's log lines in memory so a test can put them into its failure message: for failures seen once in
/// many runs, the server's side of the story (Kestrel's connection and configuration events) is otherwise lost.
/// </summary>
internal sealed class CapturedLog : ILoggerProvider
{
    private const int MaxLines = 400;
    private readonly ConcurrentQueue<string> _lines = new();

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    /// <summary>The last lines logged, oldest first, one per line.</summary>
    public override string ToString() => string.Join(Environment.NewLine, _lines);

    private void Add(string line)
    {
        _lines.Enqueue(line);
        while (_lines.Count > MaxLines && _lines.TryDequeue(out _))
        {
        }
    }

    private sealed class Logger(CapturedLog log, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var line = $"{DateTime.UtcNow:HH:mm:ss.fff} {logLevel} {category}[{eventId.Id}] {formatter(state, exception)}";
            log.Add(exception is null ? line : line + " " + exception.GetType().Name + ": " + exception.Message);
        }
    }
}

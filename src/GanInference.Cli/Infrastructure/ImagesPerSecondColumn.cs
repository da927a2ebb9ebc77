using Spectre.Console;
using Spectre.Console.Rendering;

namespace GanInference.Cli;

/// <summary>Images per second of a progress task (Spectre's transfer-speed column formats bytes).</summary>
internal sealed class ImagesPerSecondColumn : ProgressColumn
{
    public override IRenderable Render(RenderOptions options, ProgressTask task, TimeSpan deltaTime) =>
        new Text(task.Speed is { } speed ? $"{speed,8:F1} img/s" : "    - img/s");
}

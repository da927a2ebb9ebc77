using System.Globalization;
using Microsoft.Diagnostics.Tracing.Etlx;
using Microsoft.Diagnostics.Tracing.Parsers.Clr;

// Usage: allocation-sites TRACE.nettrace [FRAMES (8)] [TOP (20)]
// The runtime emits one AllocationTick event per ~100 KB allocated on a heap, naming the type of the object that crossed
// the threshold; the sums below are therefore samples: a type or stack with N ticks stands for about N × 100 KB.
if (args.Length == 0)
{
    Console.Error.WriteLine("usage: allocation-sites TRACE.nettrace [FRAMES] [TOP]");
    return 2;
}

var frames = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 8;
var top = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 20;
using var log = new TraceLog(TraceLog.CreateFromEventPipeDataFile(args[0]));
var byType = new Dictionary<string, (long Bytes, int Ticks)>();
var byStack = new Dictionary<string, (long Bytes, int Ticks)>();
long total = 0;
foreach (var data in log.Events)
{
    if (data is not GCAllocationTickTraceData tick)
    {
        continue;
    }

    total += tick.AllocationAmount64;
    Add(byType, tick.TypeName, tick.AllocationAmount64);
    var names = new List<string>();
    for (var frame = data.CallStack(); frame is not null && names.Count < frames; frame = frame.Caller)
    {
        var name = frame.CodeAddress.FullMethodName;
        names.Add(string.IsNullOrEmpty(name) ? frame.CodeAddress.ModuleName + "!?" : name);
    }

    Add(byStack, tick.TypeName + Environment.NewLine + "    " + string.Join(Environment.NewLine + "    ", names), tick.AllocationAmount64);
}

Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"sampled {total:N0} bytes"));
Console.WriteLine();
Console.WriteLine("by type:");
Print(byType, total, top);
Console.WriteLine();
Console.WriteLine("by allocating stack:");
Print(byStack, total, top);
return 0;

static void Add(Dictionary<string, (long Bytes, int Ticks)> sums, string key, long bytes)
{
    var (sum, ticks) = sums.GetValueOrDefault(key);
    sums[key] = (sum + bytes, ticks + 1);
}

static void Print(Dictionary<string, (long Bytes, int Ticks)> sums, long total, int top)
{
    foreach (var (key, (bytes, ticks)) in sums.OrderByDescending(s => s.Value.Bytes).Take(top))
    {
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{bytes,14:N0} {100.0 * bytes / total,5:F1} % {ticks,4} ticks  {key}"));
    }
}

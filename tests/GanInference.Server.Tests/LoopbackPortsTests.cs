using System.Net;
using System.Net.Sockets;
using GanInference.Tests.Shared;

namespace GanInference.Server.Tests;

/// <summary>
/// The ports test server processes get cannot be taken by a client socket before the server binds them: they lie below
/// the kernel's ephemeral range (read here from /proc, not from the helper), and no port is handed out twice.
/// </summary>
public sealed class LoopbackPortsTests
{
    [Fact]
    public void Ports_for_server_processes_are_below_the_ephemeral_range_distinct_and_free()
    {
        var low = int.Parse(File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range").Split('\t', ' ')[0], System.Globalization.CultureInfo.InvariantCulture);
        var ports = Enumerable.Range(0, 200).Select(_ => LoopbackPorts.Free()).ToList();

        Assert.DoesNotContain(ports, port => port >= low - 1024);
        Assert.Equal(ports.Count, ports.Distinct().Count());
        foreach (var port in ports.Take(20))
        {
            using var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start(); // still free: throws if not
        }
    }
}

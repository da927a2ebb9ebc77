using System.Net;
using System.Net.Sockets;

namespace GanInference.Tests.Shared;

/// <summary>
/// Loopback ports for a server process a test starts later. Not port 0 of a throwaway listener: that is a port of the
/// kernel's ephemeral range, and until the server binds it any client socket's connect() may take it (the docs check
/// lost a CI run to "address already in use" that way). Below that range only an explicit bind takes a port; the
/// ports handed out are remembered, so two servers of one test run never get the same one.
/// </summary>
internal static class LoopbackPorts
{
    private static readonly HashSet<int> HandedOut = [];
    private static readonly Lock Gate = new();

    /// <summary>The first port of the kernel's range for client sockets' local ports (net.ipv4.ip_local_port_range).</summary>
    private static int EphemeralLow()
    {
        const string RangeFile = "/proc/sys/net/ipv4/ip_local_port_range";
        var first = File.Exists(RangeFile) ? File.ReadAllText(RangeFile).Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).FirstOrDefault() : null;
        return int.TryParse(first, System.Globalization.CultureInfo.InvariantCulture, out var low) ? low : 32768; // Linux's default
    }

    /// <summary>A port nothing listens on now, below the ephemeral range (and 1,024 under it, for scripts that count up).</summary>
    public static int Free()
    {
        var low = EphemeralLow();
        int first = Math.Max(1024, low - 16384), last = low - 1024;
        if (last - first < 256)
        {
            throw new InvalidOperationException($"net.ipv4.ip_local_port_range starts at {low}: no room for test servers' ports below it");
        }

        lock (Gate)
        {
            var start = Random.Shared.Next(first, last);
            for (var offset = 0; offset < last - first; offset++)
            {
                var port = first + ((start - first + offset) % (last - first));
                if (HandedOut.Contains(port) || !CanBind(port))
                {
                    continue;
                }

                HandedOut.Add(port);
                return port;
            }
        }

        throw new InvalidOperationException($"no free loopback port in {first}-{last - 1}");
    }

    private static bool CanBind(int port)
    {
        try
        {
            using var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}

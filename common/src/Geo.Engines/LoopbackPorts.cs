using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Geo.Engines;

/// <summary>
/// Free loopback ports for services that bind them later (never a fixed port). They are drawn below the kernel's
/// ephemeral range: a port the OS handed out as "free" (bind to 0) was soon reused as the local port of some client
/// connection (every PostgreSQL connection of a parallel test takes one) before the service bound it, and the
/// service failed to start with "address already in use".
/// </summary>
public static class LoopbackPorts
{
    private static readonly (int Low, int High) Range = BelowEphemeral();

    // Ports handed out by this process: a port is free until its service binds it, which may be much later (the local
    // stack records its ports first), so without this one process could hand the same free port to two services.
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<int, bool> HandedOut = new();

    /// <summary>A TCP port free on 127.0.0.1 now, outside the range the kernel gives to client connections.</summary>
    public static int FreeTcpPort() => Find(udp: false);

    /// <summary>A port free for both UDP and TCP on 127.0.0.1 (RADIUS listens on UDP, health on TCP).</summary>
    public static int FreeUdpPort() => Find(udp: true);

    private static int Find(bool udp)
    {
        for (var attempt = 0; attempt < 2000; attempt++)
        {
            var port = Random.Shared.Next(Range.Low, Range.High);
            if (!HandedOut.ContainsKey(port) && IsFree(port, SocketType.Stream, ProtocolType.Tcp) && (!udp || IsFree(port, SocketType.Dgram, ProtocolType.Udp)) &&
                HandedOut.TryAdd(port, true))
            {
                return port;
            }
        }

        throw new EngineException($"no free loopback port between {Range.Low} and {Range.High}");
    }

    private static bool IsFree(int port, SocketType type, ProtocolType protocol)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, type, protocol);
        try
        {
            socket.Bind(new IPEndPoint(IPAddress.Loopback, port));
            if (type == SocketType.Stream)
            {
                socket.Listen();
            }

            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>[10000, first ephemeral port) from <c>net.ipv4.ip_local_port_range</c>; Linux's default gives 10000–32767.</summary>
    private static (int Low, int High) BelowEphemeral()
    {
        const int Low = 10_000;
        try
        {
            var first = int.Parse(File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range").Split((char[])['\t', ' '], StringSplitOptions.RemoveEmptyEntries)[0],
                CultureInfo.InvariantCulture);
            return first > Low + 1000 ? (Low, first) : (Low, 65535);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException)
        {
            return (Low, 32768);
        }
    }
}

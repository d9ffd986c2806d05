using System.Net;
using System.Net.Sockets;

namespace Geo.Engines;

/// <summary>Asks the operating system for free loopback ports: never a fixed port.</summary>
public static class LoopbackPorts
{
    /// <summary>A TCP port that was free on 127.0.0.1 a moment ago. Callers that bind it later retry on a clash.</summary>
    public static int FreeTcpPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>A port free for both UDP and TCP on 127.0.0.1 (RADIUS listens on UDP, health on TCP).</summary>
    public static int FreeUdpPort()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }
}

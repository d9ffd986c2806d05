using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Geo.RegionNode.IntegrationTests;

/// <summary>What tests read from a running node and its database.</summary>
internal static class NodeProbe
{
    private static readonly HttpClient Http = new();

    /// <summary>The value of one series of <c>/metrics</c>, e.g. <c>geo_radius_dropped_total{port="auth",reason="unknown_nas"}</c>; 0 when absent.</summary>
    public static async Task<long> MetricAsync(RegionNodeServer node, string series)
    {
        var text = await Http.GetStringAsync(new Uri(node.ManagementAddress, "/metrics"));
        foreach (var line in text.Split('\n'))
        {
            if (line.StartsWith(series + " ", StringComparison.Ordinal))
            {
                return (long)double.Parse(line.AsSpan(series.Length + 1), CultureInfo.InvariantCulture);
            }
        }

        return 0;
    }

    /// <summary>The body of <c>/health/ready</c> (JSON), whatever its status code.</summary>
    public static async Task<string> ReadyAsync(RegionNodeServer node)
    {
        using var response = await Http.GetAsync(new Uri(node.HttpAddress, "/health/ready"));
        return await response.Content.ReadAsStringAsync();
    }

    /// <summary>Drops a cached auth profile, as the subscriber API does after a change.</summary>
    public static Task InvalidateProfileAsync(RegionNodeServer node, string database, string username) =>
        ((Caching.IRegionCache)node.Services.GetService(typeof(Caching.IRegionCache))!).InvalidateProfileAsync(database, username);

    /// <summary>Polls a condition that another process makes true (a Redis message crossing between nodes, a backend waiting on a lock).</summary>
    public static Task WaitUntilAsync(Func<Task<bool>> condition, string what) =>
        Geo.Testing.Eventually.TrueAsync(condition, TimeSpan.FromSeconds(30), what, TimeSpan.FromMilliseconds(50));

    public static Task<T?> ScalarAsync<T>(string connectionString, string sql, params object[] parameters) =>
        Geo.Testing.Sql.ScalarAsync<T>(connectionString, sql, parameters);

    /// <summary>A raw UDP peer bound to a NAS address: one socket, so retransmissions keep their source port.</summary>
    public sealed class Peer : IDisposable
    {
        private readonly Socket _socket = new(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);

        public Peer(IPAddress source) => _socket.Bind(new IPEndPoint(source, 0));

        /// <summary>Sends a datagram and returns the first answer, or null when none comes within the timeout.</summary>
        public async Task<byte[]?> ExchangeAsync(byte[] datagram, IPEndPoint server, TimeSpan timeout)
        {
            await _socket.SendToAsync(datagram, SocketFlags.None, server);
            using var deadline = new CancellationTokenSource(timeout);
            var buffer = new byte[4096];
            try
            {
                var received = await _socket.ReceiveAsync(buffer, SocketFlags.None, deadline.Token);
                return buffer[..received];
            }
            catch (OperationCanceledException)
            {
                return null;
            }
        }

        public void Dispose() => _socket.Dispose();
    }
}

using System.Buffers;
using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using Geo.RegionNode.Operations;

namespace Geo.RegionNode.Radius;

/// <summary>A received datagram; its buffer is rented and returned when the request is done.</summary>
internal sealed record Datagram(byte[] Buffer, int Length, IPEndPoint Remote, long ReceivedAt);

/// <summary>
/// One UDP socket: one receive loop feeding a bounded queue, and a fixed number of workers draining it.
/// When the queue is full the newest datagram is dropped and counted: the NAS retransmits, and the node
/// never falls behind by more than the queue.
/// </summary>
internal sealed partial class RadiusListener : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly Channel<Datagram> _queue;
    private readonly Func<Datagram, RadiusListener, CancellationToken, Task> _handler;
    private readonly CancellationTokenSource _receiving = new();
    private readonly Counter _queueFull;
    private readonly ILogger _logger;
    private Task _receiveLoop = Task.CompletedTask;
    private Task[] _workers = [];

    public RadiusListener(string name, IPEndPoint bind, int capacity, Func<Datagram, RadiusListener, CancellationToken, Task> handler, Metrics metrics, ILogger logger)
    {
        Name = name;
        _handler = handler;
        _logger = logger;
        _queue = Channel.CreateBounded<Datagram>(new BoundedChannelOptions(capacity) { FullMode = BoundedChannelFullMode.Wait, SingleReader = false, SingleWriter = true });
        _queueFull = metrics.Counter("geo_radius_dropped_total", "RADIUS datagrams dropped, by reason", $"port=\"{name}\",reason=\"queue_full\"");
        metrics.Gauge("geo_radius_queue_depth", "Datagrams waiting for a worker", () => _queue.Reader.Count, $"port=\"{name}\"");
        _socket = new Socket(bind.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        _socket.ReceiveBufferSize = 8 * 1024 * 1024;
        _socket.SendBufferSize = 8 * 1024 * 1024;
        _socket.Bind(bind);
        LocalEndPoint = (IPEndPoint)_socket.LocalEndPoint!;
    }

    public string Name { get; }

    public IPEndPoint LocalEndPoint { get; }

    public void Start(int workers)
    {
        _workers = Enumerable.Range(0, workers).Select(_ => Task.Run(WorkAsync)).ToArray();
        _receiveLoop = Task.Run(ReceiveAsync);
    }

    public ValueTask<int> SendAsync(ReadOnlyMemory<byte> datagram, IPEndPoint remote) =>
        _socket.SendToAsync(datagram, SocketFlags.None, remote);

    private async Task ReceiveAsync()
    {
        var any = new IPEndPoint(LocalEndPoint.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, 0);
        while (!_receiving.IsCancellationRequested)
        {
            var buffer = ArrayPool<byte>.Shared.Rent(4096);
            SocketReceiveFromResult received;
            try
            {
                received = await _socket.ReceiveFromAsync(buffer, SocketFlags.None, any, _receiving.Token);
            }
            catch (OperationCanceledException)
            {
                ArrayPool<byte>.Shared.Return(buffer);
                break;
            }
            catch (SocketException ex)
            {
                // ICMP port-unreachable from an earlier send shows up here on Linux; the socket is still fine.
                ArrayPool<byte>.Shared.Return(buffer);
                LogReceiveError(_logger, Name, ex.SocketErrorCode);
                continue;
            }

            var datagram = new Datagram(buffer, received.ReceivedBytes, (IPEndPoint)received.RemoteEndPoint, TimeProvider.System.GetTimestamp());
            if (!_queue.Writer.TryWrite(datagram))
            {
                _queueFull.Increment();
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }

        _queue.Writer.TryComplete();
    }

    private async Task WorkAsync()
    {
        await foreach (var datagram in _queue.Reader.ReadAllAsync())
        {
            try
            {
                await _handler(datagram, this, CancellationToken.None);
            }
            catch (Exception ex)
            {
                // A bug in handling one request must not take the listener down.
                LogHandlerFailed(_logger, Name, ex);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(datagram.Buffer);
            }
        }
    }

    /// <summary>Stops receiving, finishes every queued and in-flight request (their answers go out), then closes the socket.</summary>
    public async ValueTask DisposeAsync()
    {
        await _receiving.CancelAsync();
        await _receiveLoop;
        await Task.WhenAll(_workers);
        _socket.Dispose();
        _receiving.Dispose();
    }

    [LoggerMessage(EventId = 1000, Level = LogLevel.Debug, Message = "RADIUS {Port}: receive error {Error}")]
    private static partial void LogReceiveError(ILogger logger, string port, SocketError error);

    [LoggerMessage(EventId = 1001, Level = LogLevel.Error, Message = "RADIUS {Port}: handling a request failed")]
    private static partial void LogHandlerFailed(ILogger logger, string port, Exception exception);
}

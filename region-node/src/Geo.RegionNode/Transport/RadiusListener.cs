using System.Buffers;
using System.Net.Sockets;
using System.Net;
using System.Threading.Channels;
using Geo.RegionNode.Telemetry;

namespace Geo.RegionNode.Transport;

/// <summary>A received datagram; its buffer is rented and returned when the request is done.</summary>
internal sealed record Datagram(byte[] Buffer, int Length, IPEndPoint Remote, long ReceivedAt);

/// <summary>
/// One UDP socket, one blocking receive thread, at most <c>workers</c> in flight and a bounded queue. The receive thread runs
/// a handler up to its first wait itself (no hand-off); when the queue is full the newest datagram is dropped and counted:
/// the NAS retransmits, and the node never falls further behind than the queue.
/// </summary>
internal sealed partial class RadiusListener : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly Channel<Datagram> _queue;
    private readonly Func<Datagram, RadiusListener, CancellationToken, Task> _handler;
    private readonly CancellationTokenSource _receiving = new();
    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Counter _queueFull;
    private readonly ILogger _logger;
    private readonly TaskCompletionSource _receiveLoop = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Thread? _receiveThread;
    private int _slots;
    private int _inFlight;
    private volatile bool _stopped;

    public RadiusListener(string name, IPEndPoint bind, int capacity, Func<Datagram, RadiusListener, CancellationToken, Task> handler, Metrics metrics, ILogger logger)
    {
        Name = name;
        _handler = handler;
        _logger = logger;
        _queue = Channel.CreateBounded<Datagram>(new BoundedChannelOptions(capacity) { FullMode = BoundedChannelFullMode.Wait, SingleReader = false, SingleWriter = true });
        _queueFull = metrics.Counter("geo_radius_dropped_total", "RADIUS datagrams dropped, by reason", $"port=\"{name}\",reason=\"queue_full\"");
        metrics.Gauge("geo_radius_queue_depth", "Datagrams waiting for a worker", () => _queue.Reader.Count, $"port=\"{name}\"");
        metrics.Gauge("geo_radius_in_flight", "Requests being handled", () => Volatile.Read(ref _inFlight), $"port=\"{name}\"");
        _socket = new Socket(bind.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        ReceiveBufferBytes = RequestReceiveBuffer(_socket);
        if (!Granted(ReceiveBufferBytes))
        {
            LogSmallReceiveBuffer(logger, name, ReceiveBufferBytes, RequestedBufferBytes);
        }

        metrics.Gauge("geo_radius_receive_buffer_bytes", "The socket's receive buffer as the kernel reports it (Linux counts twice what is asked)",
            () => ReceiveBufferBytes, $"port=\"{name}\"");
        _socket.SendBufferSize = RequestedBufferBytes;
        // The receive thread wakes this often to notice a stop; received datagrams do not wait for it.
        _socket.ReceiveTimeout = 200;
        _socket.Bind(bind);
        LocalEndPoint = (IPEndPoint)_socket.LocalEndPoint!;
    }

    /// <summary>
    /// What the node asks for its socket buffers: bursts (a BNG's mass re-login) queue in the kernel, not on the wire.
    /// Linux caps an unprivileged request at <c>net.core.rmem_max</c> (~208 KiB by default), where <c>radclient -p 256</c>
    /// already overflowed it (<c>UdpRcvbufErrors</c>; the NAS waited out its retransmit timeout).
    /// </summary>
    public const int RequestedBufferBytes = 8 * 1024 * 1024;

    // SO_RCVBUFFORCE (Linux): sets the buffer past net.core.rmem_max for a process with CAP_NET_ADMIN.
    private const int SolSocket = 1;
    private const int SoRcvBufForce = 33;

    public string Name { get; }

    public IPEndPoint LocalEndPoint { get; }

    /// <summary>The receive buffer the kernel granted, as it reports it.</summary>
    public int ReceiveBufferBytes { get; }

    /// <summary>Whether the kernel granted <see cref="RequestedBufferBytes"/> (Linux reports twice the size it sets).</summary>
    public bool ReceiveBufferGranted => Granted(ReceiveBufferBytes);

    /// <summary>Starts receiving with at most <paramref name="workers"/> requests handled at once.</summary>
    public void Start(int workers)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(workers, 1);
        _slots = workers;
        _receiveThread = new Thread(ReceiveLoop) { IsBackground = true, Name = $"radius-{Name}" };
        _receiveThread.Start();
    }

    /// <summary>Sends an answer; completes at once (a UDP send does not wait for the peer).</summary>
    public ValueTask<int> SendAsync(ReadOnlyMemory<byte> datagram, IPEndPoint remote)
    {
        try
        {
            return ValueTask.FromResult(_socket.SendTo(datagram.Span, SocketFlags.None, remote));
        }
        catch (SocketException ex)
        {
            return ValueTask.FromException<int>(ex);
        }
    }

    private void ReceiveLoop()
    {
        try
        {
            Receive();
        }
        finally
        {
            _receiveLoop.TrySetResult();
        }
    }

    private void Receive()
    {
        var any = new IPEndPoint(LocalEndPoint.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, 0);
        byte[]? buffer = null;
        while (!_receiving.IsCancellationRequested)
        {
            buffer ??= ArrayPool<byte>.Shared.Rent(4096);
            EndPoint remote = any;
            int length;
            try
            {
                length = _socket.ReceiveFrom(buffer, SocketFlags.None, ref remote);
            }
            catch (SocketException ex) when (ex.SocketErrorCode is SocketError.TimedOut or SocketError.WouldBlock or SocketError.Interrupted)
            {
                continue;
            }
            catch (SocketException ex)
            {
                // ICMP port-unreachable from an earlier send shows up here on Linux; the socket is still fine.
                LogReceiveError(_logger, Name, ex.SocketErrorCode);
                continue;
            }

            var datagram = new Datagram(buffer, length, (IPEndPoint)remote, TimeProvider.System.GetTimestamp());
            buffer = null;
            if (TryTakeSlot())
            {
                // Runs here until the handler first waits (a Redis answer, a group commit); the loop then receives on.
                _ = RunAsync(datagram);
            }
            else if (!_queue.Writer.TryWrite(datagram))
            {
                _queueFull.Increment();
                buffer = datagram.Buffer;
            }
            else if (TryTakeSlot())
            {
                // Every slot was taken a moment ago; one came free before the datagram was queued, so drain from here.
                _ = RunAsync(null);
            }
        }

        if (buffer is not null)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        _stopped = true;
        if (TryTakeSlot())
        {
            // Whatever is still queued is handled before the listener reports itself drained.
            _ = RunAsync(null);
        }
    }

    /// <summary>Takes a slot if one is free; never counts past the limit, even for a moment (two contenders could both fail).</summary>
    private bool TryTakeSlot()
    {
        int current;
        while ((current = Volatile.Read(ref _inFlight)) < _slots)
        {
            if (Interlocked.CompareExchange(ref _inFlight, current + 1, current) == current)
            {
                return true;
            }
        }

        return false;
    }

    private void ReleaseSlot()
    {
        if (Interlocked.Decrement(ref _inFlight) == 0 && _stopped && _queue.Reader.Count == 0)
        {
            _drained.TrySetResult();
        }
    }

    /// <summary>Handles <paramref name="first"/> (if any), then queued datagrams until the queue is empty; holds one slot throughout.</summary>
    private async Task RunAsync(Datagram? first)
    {
        var datagram = first;
        while (true)
        {
            if (datagram is not null || _queue.Reader.TryRead(out datagram))
            {
                await HandleOneAsync(datagram);
                datagram = null;
                continue;
            }

            ReleaseSlot();
            // A datagram queued between the empty read and the release would wait for the next arrival: take it now.
            if (_queue.Reader.Count == 0 || !TryTakeSlot())
            {
                return;
            }
        }
    }

    private async Task HandleOneAsync(Datagram datagram)
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

    /// <summary>Stops receiving, finishes every queued and in-flight request (their answers go out), then closes the socket.</summary>
    public async ValueTask DisposeAsync()
    {
        await _receiving.CancelAsync();
        await _receiveLoop.Task;
        if (Volatile.Read(ref _inFlight) == 0)
        {
            _drained.TrySetResult();
        }

        await _drained.Task;
        _socket.Dispose();
        _receiving.Dispose();
    }

    /// <summary>Asks for <see cref="RequestedBufferBytes"/>, past <c>net.core.rmem_max</c> where the process may; returns what it got.</summary>
    private static int RequestReceiveBuffer(Socket socket)
    {
        socket.ReceiveBufferSize = RequestedBufferBytes;
        if (Granted(socket.ReceiveBufferSize) || !OperatingSystem.IsLinux())
        {
            return socket.ReceiveBufferSize;
        }

        try
        {
            socket.SetRawSocketOption(SolSocket, SoRcvBufForce, BitConverter.GetBytes(RequestedBufferBytes));
        }
        catch (SocketException)
        {
            // Not privileged: the caller warns with the size obtained.
        }

        return socket.ReceiveBufferSize;
    }

    private static bool Granted(int reported) => reported >= (OperatingSystem.IsLinux() ? 2L : 1L) * RequestedBufferBytes;

    [LoggerMessage(EventId = 1005, Level = LogLevel.Warning, Message = "RADIUS {Port}: the kernel granted a receive buffer of {Bytes} bytes of the {Requested} asked for; bursts beyond it are dropped (UdpRcvbufErrors) and wait for the NAS to retransmit. Raise the limit: sysctl -w net.core.rmem_max=8388608 (or run with CAP_NET_ADMIN)")]
    private static partial void LogSmallReceiveBuffer(ILogger logger, string port, int bytes, int requested);

    [LoggerMessage(EventId = 1000, Level = LogLevel.Debug, Message = "RADIUS {Port}: receive error {Error}")]
    private static partial void LogReceiveError(ILogger logger, string port, SocketError error);

    [LoggerMessage(EventId = 1001, Level = LogLevel.Error, Message = "RADIUS {Port}: handling a request failed")]
    private static partial void LogHandlerFailed(ILogger logger, string port, Exception exception);
}

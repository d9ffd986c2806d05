using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using Geo.Radius.Security;

namespace Geo.Radius.Nas;

/// <summary>
/// One UDP socket playing a NAS: up to 256 requests in flight (the identifier space), answers matched by identifier.
/// Lean because it shares the machine with the server it measures: a blocking receive thread continues waiters inline,
/// plain sends to a pre-encoded address, and one timeout sweep every 100 ms instead of a timer per request.
/// </summary>
public sealed class NasRadiusClient : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly SocketAddress _server;
    private readonly Pending?[] _pending = new Pending?[256];
    private readonly Channel<byte> _freeIds = Channel.CreateUnbounded<byte>();
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource _receiver = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Timer _sweeper;

    public NasRadiusClient(IPAddress source, IPEndPoint server)
    {
        _server = server.Serialize();
        _socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp) { ReceiveBufferSize = 4 * 1024 * 1024, ReceiveTimeout = 100 };
        _socket.Bind(new IPEndPoint(source, 0));
        for (var id = 0; id < 256; id++)
        {
            _freeIds.Writer.TryWrite((byte)id);
        }

        new Thread(Receive) { IsBackground = true, Name = "radius-load-receive" }.Start();
        _sweeper = new Timer(_ => TimeOutLateAnswers(), null, TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(100));
    }

    private long _staleAnswers;

    /// <summary>Answers dropped because they belonged to an earlier request that had the identifier (see <see cref="ExchangeWithRetriesAsync"/>).</summary>
    public long StaleAnswers => Interlocked.Read(ref _staleAnswers);

    /// <summary>Takes a free identifier (waits while 256 are in flight).</summary>
    public ValueTask<byte> RentIdentifierAsync(CancellationToken cancellationToken) => _freeIds.Reader.ReadAsync(cancellationToken);

    /// <summary>Sends a finished request with the identifier from <see cref="RentIdentifierAsync"/>; completes with the answer's code, or 0 on timeout.</summary>
    public async Task<RadiusCode> SendAsync(byte identifier, ReadOnlyMemory<byte> request, TimeSpan timeout)
    {
        var pending = new Pending(Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency));
        _pending[identifier] = pending;
        try
        {
            _socket.SendTo(request.Span, SocketFlags.None, _server);
            return await pending.Answer.Task;
        }
        finally
        {
            _pending[identifier] = null;
            _freeIds.Writer.TryWrite(identifier);
        }
    }

    /// <summary>Sends a finished request and returns the whole answer (null on timeout): for set-up steps, not for measuring.</summary>
    public async Task<byte[]?> ExchangeAsync(byte identifier, ReadOnlyMemory<byte> request, TimeSpan timeout)
    {
        var pending = new Pending(Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency)) { KeepAnswer = true };
        _pending[identifier] = pending;
        try
        {
            _socket.SendTo(request.Span, SocketFlags.None, _server);
            return await pending.Answer.Task == 0 ? null : pending.Bytes;
        }
        finally
        {
            _pending[identifier] = null;
            _freeIds.Writer.TryWrite(identifier);
        }
    }

    /// <summary>
    /// Sends a finished request and waits up to <paramref name="timeout"/> for its answer, sending the same bytes again
    /// (a NAS's retransmission: same identifier, same authenticator) up to <paramref name="tries"/> times in all. Returns
    /// the answer (null when every try went unanswered) and how many times it was sent.
    /// </summary>
    /// <remarks>
    /// As a NAS does, an answer counts only when its Response Authenticator matches this request (and
    /// <paramref name="secret"/>): a late answer to an earlier request that had the identifier before (given up on, its
    /// identifier reused) is dropped and counted in <see cref="StaleAnswers"/>, never taken for this one's.
    /// </remarks>
    public async Task<(byte[]? Answer, int Sent)> ExchangeWithRetriesAsync(byte identifier, ReadOnlyMemory<byte> request, TimeSpan timeout, int tries, byte[] secret)
    {
        try
        {
            for (var sent = 1; ; sent++)
            {
                var pending = new Pending(Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency))
                {
                    KeepAnswer = true,
                    RequestAuthenticator = request.Slice(4, 16).ToArray(),
                    Secret = secret,
                };
                _pending[identifier] = pending;
                _socket.SendTo(request.Span, SocketFlags.None, _server);
                if (await pending.Answer.Task != 0)
                {
                    return (pending.Bytes, sent);
                }

                if (sent >= tries)
                {
                    return (null, sent);
                }
            }
        }
        finally
        {
            _pending[identifier] = null;
            _freeIds.Writer.TryWrite(identifier);
        }
    }

    private void Receive()
    {
        try
        {
            ReceiveAnswers();
        }
        finally
        {
            _receiver.TrySetResult();
        }
    }

    private void ReceiveAnswers()
    {
        var buffer = new byte[4096];
        while (!_stop.IsCancellationRequested)
        {
            int received;
            try
            {
                received = _socket.Receive(buffer, SocketFlags.None);
            }
            catch (SocketException)
            {
                // A receive timeout (to notice the stop) or an ICMP error from an earlier send.
                continue;
            }
            catch (ObjectDisposedException)
            {
                break;
            }

            if (received >= 20 && _pending[buffer[1]] is { } pending)
            {
                if (pending.RequestAuthenticator is { } authenticator &&
                    !RadiusAuthenticator.VerifyResponseAuthenticator(buffer.AsSpan(0, received), authenticator, pending.Secret))
                {
                    Interlocked.Increment(ref _staleAnswers);
                    continue;
                }

                if (pending.KeepAnswer)
                {
                    pending.Bytes = buffer.AsSpan(0, received).ToArray();
                }

                pending.Answer.TrySetResult((RadiusCode)buffer[0]);
            }
        }
    }

    /// <summary>Answers 0 (timeout) to every request past its deadline.</summary>
    private void TimeOutLateAnswers()
    {
        var now = Stopwatch.GetTimestamp();
        foreach (var pending in _pending)
        {
            if (pending is not null && pending.Deadline < now)
            {
                pending.Answer.TrySetResult(0);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _sweeper.DisposeAsync();
        await _stop.CancelAsync();
        await _receiver.Task;
        _socket.Dispose();
        _stop.Dispose();
    }

    private sealed class Pending(long deadline)
    {
        public long Deadline { get; } = deadline;

        public bool KeepAnswer { get; init; }

        /// <summary>When set, an answer must carry the Response Authenticator of this request and <see cref="Secret"/>.</summary>
        public byte[]? RequestAuthenticator { get; init; }

        public byte[] Secret { get; init; } = [];

        public byte[]? Bytes { get; set; }

        // Continuations run where the answer is set: the receive loop goes on to build and send the worker's next request.
        public TaskCompletionSource<RadiusCode> Answer { get; } = new();
    }
}

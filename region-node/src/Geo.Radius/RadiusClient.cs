using System.Net.Sockets;
using System.Net;

namespace Geo.Radius;

/// <summary>
/// The client side of RADIUS for our own requests (a node forwarding to another region, CoA and Disconnect to a
/// NAS, a rejoin re-sending accounting): one UDP socket, up to 256 requests in flight (the identifier space), answers matched by identifier,
/// retransmission of the same packet on silence, and the caller's check of each answer (its authenticator).
/// </summary>
public sealed class RadiusClient : IDisposable
{
    private readonly Socket _socket;
    private readonly TaskCompletionSource<byte[]>?[] _pending = new TaskCompletionSource<byte[]>?[256];
    private readonly SemaphoreSlim _identifiers = new(256, 256);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _receiver;
    private int _next;
    private int _disposed;

    public RadiusClient(IPAddress bind)
    {
        _socket = new Socket(bind.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        _socket.Bind(new IPEndPoint(bind, 0));
        _receiver = Task.Run(ReceiveAsync);
    }

    /// <summary>
    /// Builds the request with a free identifier, sends it up to <paramref name="attempts"/> times, and returns the
    /// first answer that <paramref name="accept"/> takes (given the request and the answer), with the attempt it
    /// came on; null when none did.
    /// </summary>
    public async Task<(byte[] Answer, int Attempt)?> ExchangeAsync(Func<byte, byte[]> build, IPEndPoint destination, TimeSpan timeout, int attempts,
        Func<byte[], byte[], bool> accept, CancellationToken cancellationToken)
    {
        await _identifiers.WaitAsync(cancellationToken);
        var identifier = Take();
        try
        {
            var request = build(identifier);
            for (var attempt = 1; attempt <= attempts; attempt++)
            {
                var answer = new TaskCompletionSource<byte[]>(TaskCreationOptions.RunContinuationsAsynchronously);
                _pending[identifier] = answer;
                await _socket.SendToAsync(request, SocketFlags.None, destination, cancellationToken);
                try
                {
                    var reply = await answer.Task.WaitAsync(timeout, cancellationToken);
                    if (accept(request, reply))
                    {
                        return (reply, attempt);
                    }
                }
                catch (TimeoutException)
                {
                }
            }

            return null;
        }
        finally
        {
            _pending[identifier] = null;
            _identifiers.Release();
        }
    }

    private byte Take()
    {
        // A free identifier exists: the semaphore admits at most 256 requests.
        while (true)
        {
            var identifier = (byte)(Interlocked.Increment(ref _next) & 0xFF);
            if (_pending[identifier] is null)
            {
                return identifier;
            }
        }
    }

    private async Task ReceiveAsync()
    {
        var buffer = new byte[RadiusPacket.MaxLength];
        while (!_stop.IsCancellationRequested)
        {
            int received;
            try
            {
                received = await _socket.ReceiveAsync(buffer, SocketFlags.None, _stop.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException)
            {
                continue;
            }

            if (received >= RadiusPacket.HeaderLength && _pending[buffer[1]] is { } pending)
            {
                pending.TrySetResult(buffer[..received]);
            }
        }
    }

    public void Dispose()
    {
        // Idempotent: the host may dispose a hosted service that is also a registered singleton twice.
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        _stop.Cancel();
        _socket.Dispose();
        _receiver.Wait(TimeSpan.FromSeconds(5));
        _stop.Dispose();
        _identifiers.Dispose();
    }
}

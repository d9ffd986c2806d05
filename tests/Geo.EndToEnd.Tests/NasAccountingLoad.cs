using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Geo.Radius;
using Geo.Radius.Dictionary;
using Geo.Radius.Security;

namespace Geo.EndToEnd.Tests;

/// <summary>
/// A NAS-like accounting client: sends Accounting-Request Start packets, each a new session, at a steady rate from the
/// NAS's own address, and keeps its own log of every request the region acknowledged (a verified Accounting-Response)
/// with the time the answer arrived. What it logs is what the platform promised to keep.
/// </summary>
internal sealed class NasAccountingLoad : IDisposable
{
    private readonly Socket _socket;
    private readonly IPEndPoint _server;
    private readonly byte[] _secret;
    private readonly (string Session, byte[] Authenticator)?[] _pending = new (string, byte[])?[256];
    private readonly ConcurrentDictionary<string, DateTimeOffset> _acknowledged = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stop = new();
    private readonly Thread _receiver;
    private long _sent;

    public NasAccountingLoad(IPAddress nasAddress, IPEndPoint server, string secret)
    {
        _server = server;
        _secret = Encoding.UTF8.GetBytes(secret);
        _socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp) { ReceiveTimeout = 100 };
        _socket.Bind(new IPEndPoint(nasAddress, 0));
        _receiver = new Thread(Receive) { IsBackground = true, Name = "nas-accounting-receive" };
        _receiver.Start();
    }

    /// <summary>Requests sent so far.</summary>
    public long Sent => Interlocked.Read(ref _sent);

    /// <summary>Every acknowledged session id, with when its acknowledgement arrived.</summary>
    public IReadOnlyDictionary<string, DateTimeOffset> Acknowledged => _acknowledged;

    /// <summary>Sends Starts for <paramref name="usernames"/> in turn at <paramref name="perSecond"/> until cancelled.</summary>
    public async Task RunAsync(IReadOnlyList<string> usernames, int perSecond, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var buffer = new byte[4096];
        var prefix = Guid.NewGuid().ToString("N")[..8];
        long n = 0;
        while (!cancellationToken.IsCancellationRequested)
        {
            var due = (long)(clock.Elapsed.TotalSeconds * perSecond);
            for (; n < due; n++)
            {
                var identifier = (byte)(n & 0xFF);
                var session = $"dr-{prefix}-{n:D7}";
                var writer = new RadiusPacketWriter(buffer, RadiusCode.AccountingRequest, identifier);
                writer.AddString(RadiusAttributeType.UserName, usernames[(int)(n % usernames.Count)]);
                writer.AddUInt32(RadiusAttributeType.AcctStatusType, (uint)AcctStatusType.Start);
                writer.AddString(RadiusAttributeType.AcctSessionId, session);
                var length = writer.FinishRequest(_secret);
                _pending[identifier] = (session, buffer.AsSpan(4, 16).ToArray());
                try
                {
                    _socket.SendTo(buffer.AsSpan(0, length), SocketFlags.None, _server);
                }
                catch (SocketException)
                {
                    // The region is gone (port unreachable): the NAS would retransmit or fail over; this log keeps only acks.
                }

                Interlocked.Increment(ref _sent);
            }

            try
            {
                await Task.Delay(1, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private void Receive()
    {
        var buffer = new byte[4096];
        while (!_stop.IsCancellationRequested)
        {
            int length;
            try
            {
                length = _socket.Receive(buffer);
            }
            catch (SocketException)
            {
                continue;
            }
            catch (ObjectDisposedException)
            {
                return;
            }

            var reply = buffer.AsSpan(0, length);
            if (length < 20 || (RadiusCode)reply[0] != RadiusCode.AccountingResponse || _pending[reply[1]] is not { } pending)
            {
                continue;
            }

            if (RadiusAuthenticator.VerifyResponseAuthenticator(reply, pending.Authenticator, _secret))
            {
                _acknowledged.TryAdd(pending.Session, DateTimeOffset.UtcNow);
            }
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _socket.Dispose();
        _receiver.Join();
        _stop.Dispose();
    }
}

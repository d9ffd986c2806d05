using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Geo.Radius;
using Geo.Radius.Dictionary;
using Geo.Radius.Security;
using Geo.RegionNode.Operations;
using Geo.RegionNode.Shards;
using Microsoft.Extensions.Options;

namespace Geo.RegionNode.Radius;

/// <summary>
/// Forwards a NAS's request for a shard that another region owns to that region, and relays the answer.
/// The forwarded request is signed with the inter-region secret (User-Password re-hidden, CHAP challenge kept,
/// Message-Authenticator recomputed), names the NAS in NAS-IP-Address, and carries a Proxy-State of ours that
/// is removed again from the answer. The owner region answers it itself and never forwards it on (no loops).
/// No answer within the timeout (one retry) means no answer to the NAS either, which then retransmits.
/// </summary>
internal sealed partial class RegionForwarder : IDisposable
{
    private readonly ShardCatalog _catalog;
    private readonly string _region;
    private readonly byte[]? _secret;
    private readonly TimeSpan _timeout;
    private readonly Socket _socket;
    private readonly TaskCompletionSource<byte[]>?[] _pending = new TaskCompletionSource<byte[]>?[256];
    private readonly SemaphoreSlim _identifiers = new(256, 256);
    private readonly Counter _forwarded;
    private readonly Counter _timeouts;
    private readonly ILogger<RegionForwarder> _logger;
    private readonly Task _receiver;
    private readonly CancellationTokenSource _stop = new();
    private int _next;

    public RegionForwarder(IOptions<RegionNodeOptions> options, ShardCatalog catalog, Metrics metrics, ILogger<RegionForwarder> logger)
    {
        _catalog = catalog;
        _region = options.Value.RegionId;
        _logger = logger;
        _timeout = options.Value.ForwardTimeout;
        _secret = options.Value.InterRegionSecretFile.Length == 0 ? null : File.ReadAllBytes(options.Value.InterRegionSecretFile).AsSpan().Trim((byte)'\n').ToArray();
        _forwarded = metrics.Counter("geo_radius_forwarded_total", "Requests forwarded to the owner region of their shard, by outcome", "outcome=\"answered\"");
        _timeouts = metrics.Counter("geo_radius_forwarded_total", "Requests forwarded to the owner region of their shard, by outcome", "outcome=\"timeout\"");
        var bind = IPAddress.Parse(options.Value.RadiusBindAddress);
        _socket = new Socket(bind.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        _socket.Bind(new IPEndPoint(bind, 0));
        _receiver = Task.Run(ReceiveAsync);
    }

    /// <summary>The inter-region secret; null when forwarding is off.</summary>
    public byte[]? Secret => _secret;

    /// <summary>Forwards to the owner region; returns the length of the answer for the NAS in <paramref name="response"/>, 0 when there is none.</summary>
    public async ValueTask<int> ForwardAsync(RadiusRequest request, string ownerRegion, byte[] response, CancellationToken cancellationToken)
    {
        if (_secret is null || request.FromPeer || ownerRegion == _region || _catalog.Region(ownerRegion) is not { } owner)
        {
            return 0;
        }

        var destination = new IPEndPoint(owner.Address, request.Packet.Code == RadiusCode.AccountingRequest ? owner.AcctPort : owner.AuthPort);
        await _identifiers.WaitAsync(cancellationToken);
        var identifier = Take();
        try
        {
            var token = RandomNumberGenerator.GetBytes(8);
            var forwarded = BuildForward(request, identifier, token, _secret);
            for (var attempt = 0; attempt < 2; attempt++)
            {
                var answer = new TaskCompletionSource<byte[]>(TaskCreationOptions.RunContinuationsAsynchronously);
                _pending[identifier] = answer;
                await _socket.SendToAsync(forwarded, SocketFlags.None, destination, cancellationToken);
                byte[] reply;
                try
                {
                    reply = await answer.Task.WaitAsync(_timeout, cancellationToken);
                }
                catch (TimeoutException)
                {
                    continue;
                }

                if (!RadiusAuthenticator.VerifyResponseAuthenticator(reply, forwarded.AsSpan(4, 16), _secret) ||
                    RadiusPacket.TryRead(reply, out var packet) != RadiusReadStatus.Ok)
                {
                    continue;
                }

                _forwarded.Increment();
                return Relay(request, packet, token, response);
            }

            _timeouts.Increment();
            LogTimeout(_logger, ownerRegion);
            return 0;
        }
        finally
        {
            _pending[identifier] = null;
            _identifiers.Release();
        }
    }

    private static byte[] BuildForward(RadiusRequest request, byte identifier, byte[] token, byte[] secret)
    {
        var packet = request.Packet;
        var buffer = new byte[RadiusPacket.MaxLength];
        var isAccess = packet.Code == RadiusCode.AccessRequest;
        var writer = isAccess
            ? new RadiusPacketWriter(buffer, packet.Code, identifier, RandomNumberGenerator.GetBytes(16))
            : new RadiusPacketWriter(buffer, packet.Code, identifier);
        foreach (var attribute in packet.Attributes)
        {
            if (attribute.Type is not (RadiusAttributeType.UserPassword or RadiusAttributeType.MessageAuthenticator or RadiusAttributeType.NasIpAddress))
            {
                writer.AddAttribute(attribute.Type, attribute.Value);
            }
        }

        writer.AddIPv4Address(RadiusAttributeType.NasIpAddress, request.Nas.Address);
        if (isAccess)
        {
            Span<byte> password = stackalloc byte[UserPassword.MaxPasswordLength];
            if (UserPassword.TryRecover(packet, request.Secret, password, out var length) == UserPasswordStatus.Ok)
            {
                writer.AddUserPassword(password[..length], secret);
            }

            CryptographicOperations.ZeroMemory(password);
            if (packet.ContainsAttribute(RadiusAttributeType.ChapPassword) && !packet.ContainsAttribute(RadiusAttributeType.ChapChallenge))
            {
                // The NAS's challenge was its Request Authenticator, which this packet no longer carries.
                writer.AddAttribute(RadiusAttributeType.ChapChallenge, packet.Authenticator);
            }
        }

        writer.AddAttribute(RadiusAttributeType.ProxyState, token);
        if (isAccess)
        {
            writer.AddMessageAuthenticator();
        }

        return buffer[..writer.FinishRequest(secret)];
    }

    /// <summary>The owner's answer, re-signed for the NAS, without our Proxy-State.</summary>
    private static int Relay(RadiusRequest request, RadiusPacket answer, byte[] token, byte[] response)
    {
        var writer = new RadiusPacketWriter(response, answer.Code, request.Packet.Identifier);
        foreach (var attribute in answer.Attributes)
        {
            if (attribute.Type == RadiusAttributeType.MessageAuthenticator ||
                (attribute.Type == RadiusAttributeType.ProxyState && attribute.Value.SequenceEqual(token)))
            {
                continue;
            }

            writer.AddAttribute(attribute.Type, attribute.Value);
        }

        if (answer.Code != RadiusCode.AccountingResponse)
        {
            writer.AddMessageAuthenticator();
        }

        return writer.FinishResponse(request.Packet, request.Secret);
    }

    private byte Take()
    {
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
        _stop.Cancel();
        _socket.Dispose();
        _receiver.Wait(TimeSpan.FromSeconds(5));
        _stop.Dispose();
        _identifiers.Dispose();
    }

    [LoggerMessage(EventId = 1010, Level = LogLevel.Warning, Message = "Forwarded request got no answer from region {Region}; left unanswered so the NAS retries")]
    private static partial void LogTimeout(ILogger logger, string region);
}

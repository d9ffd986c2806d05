using System.Net;
using System.Security.Cryptography;
using Geo.Radius.Dictionary;
using Geo.Radius.Security;
using Geo.Radius;
using Geo.RegionNode.Shards;
using Geo.RegionNode.Telemetry;
using Microsoft.Extensions.Options;

namespace Geo.RegionNode.Transport;

/// <summary>
/// Relays a NAS request for a shard another region owns, re-signed with the inter-region secret and tagged with our
/// Proxy-State; the owner never forwards it on (no loops). No answer after one retry means none to the NAS, which retransmits.
/// </summary>
internal sealed partial class RegionForwarder : IDisposable
{
    private readonly ShardCatalog _catalog;
    private readonly string _region;
    private readonly byte[]? _secret;
    private readonly TimeSpan _timeout;
    private readonly RadiusClient _client;
    private readonly Counter _forwarded;
    private readonly Counter _timeouts;
    private readonly ILogger<RegionForwarder> _logger;

    public RegionForwarder(IOptions<RegionNodeOptions> options, ShardCatalog catalog, Metrics metrics, ILogger<RegionForwarder> logger)
    {
        _catalog = catalog;
        _region = options.Value.RegionId;
        _logger = logger;
        _timeout = options.Value.ForwardTimeout;
        _secret = options.Value.InterRegionSecretFile.Length == 0 ? null : File.ReadAllBytes(options.Value.InterRegionSecretFile).AsSpan().Trim((byte)'\n').ToArray();
        _forwarded = metrics.Counter("geo_radius_forwarded_total", "Requests forwarded to the owner region of their shard, by outcome", "outcome=\"answered\"");
        _timeouts = metrics.Counter("geo_radius_forwarded_total", "Requests forwarded to the owner region of their shard, by outcome", "outcome=\"timeout\"");
        _client = new RadiusClient(IPAddress.Parse(options.Value.RadiusBindAddress));
    }

    /// <summary>The inter-region secret; null when forwarding is off.</summary>
    public byte[]? Secret => _secret;

    /// <summary>
    /// Forwards to the owner region; returns the length of the answer for the NAS in <paramref name="response"/>, 0 when
    /// there is none. With <paramref name="within"/> (this region can answer itself, from a replica or its journal) it
    /// tries once for that long, so that the NAS still gets that answer in time.
    /// </summary>
    public async ValueTask<int> ForwardAsync(RadiusRequest request, string ownerRegion, byte[] response, CancellationToken cancellationToken, TimeSpan? within = null)
    {
        if (_secret is null || request.FromPeer || ownerRegion == _region || _catalog.Region(ownerRegion) is not { } owner)
        {
            return 0;
        }

        var destination = new IPEndPoint(owner.Address, request.Packet.Code == RadiusCode.AccountingRequest ? owner.AcctPort : owner.AuthPort);
        var token = RandomNumberGenerator.GetBytes(8);
        var secret = _secret;
        var exchanged = await _client.ExchangeAsync(identifier => BuildForward(request, identifier, token, secret), destination,
            within ?? _timeout, attempts: within is null ? 2 : 1,
            (sent, reply) => RadiusAuthenticator.VerifyResponseAuthenticator(reply, sent.AsSpan(4, 16), secret) && RadiusPacket.TryRead(reply, out _) == RadiusReadStatus.Ok,
            cancellationToken);
        if (exchanged is not { } answer)
        {
            _timeouts.Increment();
            LogTimeout(_logger, ownerRegion);
            return 0;
        }

        _forwarded.Increment();
        RadiusPacket.TryRead(answer.Answer, out var packet);
        return Relay(request, packet, token, response);
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

    public void Dispose() => _client.Dispose();

    [LoggerMessage(EventId = 1010, Level = LogLevel.Warning, Message = "Forwarded request got no answer from region {Region}; left unanswered so the NAS retries")]
    private static partial void LogTimeout(ILogger logger, string region);
}

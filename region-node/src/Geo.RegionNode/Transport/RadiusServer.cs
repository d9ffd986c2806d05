using System.Buffers;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using Geo.Radius.Dictionary;
using Geo.Radius.Security;
using Geo.Radius;
using Geo.RegionNode.Accounting;
using Geo.RegionNode.Authentication;
using Geo.RegionNode.Shards;
using Geo.RegionNode.Telemetry;
using Microsoft.Extensions.Options;

namespace Geo.RegionNode.Transport;

/// <summary>
/// The RADIUS front door: each datagram must be well-formed, from a known NAS, signed (Message-Authenticator required on
/// Access-Request unless exempted: Blast-RADIUS, CVE-2024-3596) and not a duplicate; drops are counted by reason.
/// </summary>
internal sealed partial class RadiusServer(
    IOptions<RegionNodeOptions> options,
    ShardCatalog catalog,
    AuthenticationHandler authentication,
    AccountingHandler accounting,
    Metrics metrics,
    TimeProvider time,
    RegionForwarder forwarder,
    ILoggerFactory loggers) : IHostedService, IAsyncDisposable
{
    private readonly RegionNodeOptions _options = options.Value;
    private readonly ILogger _logger = loggers.CreateLogger<RadiusServer>();
    private readonly DuplicateCache _duplicates = new(options.Value.DuplicateWindow, time, options.Value.DuplicateCacheEntries);
    private readonly ConcurrentDictionary<IPAddress, long> _unknownNasLogged = new();
    private readonly Counter _statusServer = metrics.Counter("geo_radius_requests_total", "RADIUS requests answered, by type and result", "type=\"status\",result=\"ok\"");
    private readonly Counter _duplicateAnswered = metrics.Counter("geo_radius_duplicates_total", "Retransmissions answered from the duplicate cache or dropped while in progress", "outcome=\"answered_from_cache\"");
    private readonly Counter _duplicateInProgress = metrics.Counter("geo_radius_duplicates_total", "Retransmissions answered from the duplicate cache or dropped while in progress", "outcome=\"dropped_in_progress\"");
    private RadiusListener? _auth;
    private RadiusListener? _acct;
    private ITimer? _expiry;

    public IPEndPoint AuthEndpoint => _auth?.LocalEndPoint ?? throw new InvalidOperationException("not started");

    public IPEndPoint AcctEndpoint => _acct?.LocalEndPoint ?? throw new InvalidOperationException("not started");

    public bool Listening => _auth is not null && _acct is not null;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        // No answer before the node knows what it owns: an early Access-Reject would be a wrong answer.
        await catalog.RefreshAsync(cancellationToken);
        var address = IPAddress.Parse(_options.RadiusBindAddress);
        metrics.Gauge("geo_radius_duplicate_cache_entries", "Requests remembered for duplicate detection", () => _duplicates.Count);
        metrics.Gauge("geo_radius_duplicate_cache_evicted_early", "Requests forgotten before the duplicate window passed because the cache was full (raise DuplicateCacheEntries)", () => _duplicates.EvictedEarly);
        _auth = new RadiusListener("auth", new IPEndPoint(address, _options.AuthPort), _options.QueueCapacity, HandleAsync, metrics, _logger);
        _acct = new RadiusListener("acct", new IPEndPoint(address, _options.AcctPort), _options.QueueCapacity, HandleAsync, metrics, _logger);
        _auth.Start(_options.AuthWorkers);
        _acct.Start(_options.AccountingWorkers);
        _expiry = time.CreateTimer(_ => _duplicates.Expire(), null, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
        LogListening(_logger, _options.RegionId, _auth.LocalEndPoint, _acct.LocalEndPoint, catalog.Shards.Count);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        LogStopping(_logger);
        await DisposeAsync();
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _auth, null) is { } auth)
        {
            await auth.DisposeAsync();
        }

        if (Interlocked.Exchange(ref _acct, null) is { } acct)
        {
            await acct.DisposeAsync();
        }

        if (Interlocked.Exchange(ref _expiry, null) is { } expiry)
        {
            await expiry.DisposeAsync();
        }
    }

    private async Task HandleAsync(Datagram datagram, RadiusListener listener, CancellationToken cancellationToken)
    {
        var status = RadiusPacket.TryRead(datagram.Buffer.AsMemory(0, datagram.Length), out var packet);
        if (status != RadiusReadStatus.Ok)
        {
            Drop(listener, $"malformed_{status}");
            return;
        }

        var address = datagram.Remote.Address.IsIPv4MappedToIPv6 ? datagram.Remote.Address.MapToIPv4() : datagram.Remote.Address;
        var isAuthPort = ReferenceEquals(listener, _auth);
        RadiusRequest request;
        if (catalog.TryGetNas(address, out var nas))
        {
            var verdict = Verify(packet, nas, isAuthPort, out var secretIndex);
            if (verdict is not null)
            {
                Drop(listener, verdict);
                return;
            }

            request = new RadiusRequest(packet, datagram.Remote, nas, nas.SecretBytes(secretIndex));
        }
        else if (catalog.IsPeer(address) && forwarder.Secret is { } peerSecret)
        {
            // Forwarded by another region: signed with the inter-region secret, the NAS named in NAS-IP-Address.
            var verdict = VerifyWith(packet, peerSecret, isAuthPort, requireMessageAuthenticator: true);
            if (verdict is not null)
            {
                Drop(listener, $"peer_{verdict}");
                return;
            }

            if (packet.Code == RadiusCode.StatusServer)
            {
                // A peer region's heartbeat (OwnerHeartbeat): this node is alive; no NAS is involved.
                var reply = ArrayPool<byte>.Shared.Rent(RadiusPacket.MaxLength);
                try
                {
                    var length = StatusReply(packet, peerSecret, isAuthPort, reply);
                    await listener.SendAsync(reply.AsMemory(0, length), datagram.Remote);
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(reply);
                }

                return;
            }

            if (!packet.TryGetIPv4Address(RadiusAttributeType.NasIpAddress, out var nasAddress) || !catalog.TryGetNas(nasAddress, out nas))
            {
                Drop(listener, "peer_unknown_nas");
                return;
            }

            request = new RadiusRequest(packet, datagram.Remote, nas, peerSecret, FromPeer: true);
        }
        else
        {
            Drop(listener, "unknown_nas");
            LogUnknownNasRateLimited(address);
            return;
        }

        var key = RadiusRequestKey.Create(address, datagram.Remote.Port, packet);
        var response = ArrayPool<byte>.Shared.Rent(4096);
        var answered = false;
        try
        {
            switch (_duplicates.Begin(key, response, out var cachedLength))
            {
                case DuplicateState.InProgress:
                    _duplicateInProgress.Increment();
                    answered = true;
                    return;
                case DuplicateState.Answered:
                    _duplicateAnswered.Increment();
                    answered = true;
                    await listener.SendAsync(response.AsMemory(0, cachedLength), datagram.Remote);
                    return;
            }

            var (length, latency) = packet.Code switch
            {
                RadiusCode.AccessRequest => (await authentication.HandleAsync(request, response, cancellationToken), authentication.Latency),
                RadiusCode.AccountingRequest => (await accounting.HandleAsync(request, response, cancellationToken), accounting.Latency),
                _ => (StatusReply(request.Packet, request.Secret, isAuthPort, response), null),
            };
            if (length > 0)
            {
                _duplicates.Complete(key, response.AsSpan(0, length));
                answered = true;
                await listener.SendAsync(response.AsMemory(0, length), datagram.Remote);
                latency?.Observe(Stopwatch.GetElapsedTime(datagram.ReceivedAt).TotalSeconds);
            }
        }
        finally
        {
            if (!answered)
            {
                _duplicates.Abandon(key);
            }

            ArrayPool<byte>.Shared.Return(response);
        }
    }

    /// <summary>Checks a packet against one secret (a peer region's); null when it may be handled.</summary>
    private static string? VerifyWith(RadiusPacket packet, byte[] secret, bool isAuthPort, bool requireMessageAuthenticator) => packet.Code switch
    {
        RadiusCode.AccessRequest or RadiusCode.StatusServer when isAuthPort || packet.Code == RadiusCode.StatusServer =>
            MessageAuthenticator.Verify(packet, secret) switch
            {
                MessageAuthenticatorStatus.Valid => null,
                MessageAuthenticatorStatus.Absent when !requireMessageAuthenticator => null,
                MessageAuthenticatorStatus.Absent => "missing_message_authenticator",
                _ => "bad_message_authenticator",
            },
        RadiusCode.AccountingRequest when !isAuthPort =>
            RadiusAuthenticator.VerifyRequestAuthenticator(packet, secret) && MessageAuthenticator.Verify(packet, secret) != MessageAuthenticatorStatus.Invalid
                ? null : "bad_authenticator",
        _ => "unexpected_code",
    };

    /// <summary>Null when the packet may be handled; otherwise the reason to drop it.</summary>
    private string? Verify(RadiusPacket packet, NasClient nas, bool isAuthPort, out int secretIndex)
    {
        secretIndex = 0;
        var secrets = nas.SecretCount(time.GetUtcNow());
        switch (packet.Code)
        {
            case RadiusCode.AccessRequest when isAuthPort:
            case RadiusCode.StatusServer:
                for (var i = 0; i < secrets; i++)
                {
                    switch (MessageAuthenticator.Verify(packet, nas.Secret(i)))
                    {
                        case MessageAuthenticatorStatus.Valid:
                            secretIndex = i;
                            return null;
                        case MessageAuthenticatorStatus.Absent:
                            return packet.Code == RadiusCode.AccessRequest && !nas.RequireMessageAuthenticator ? null : "missing_message_authenticator";
                    }
                }

                return "bad_message_authenticator";
            case RadiusCode.AccountingRequest when !isAuthPort:
                for (var i = 0; i < secrets; i++)
                {
                    if (RadiusAuthenticator.VerifyRequestAuthenticator(packet, nas.Secret(i)) &&
                        MessageAuthenticator.Verify(packet, nas.Secret(i)) != MessageAuthenticatorStatus.Invalid)
                    {
                        secretIndex = i;
                        return null;
                    }
                }

                return "bad_authenticator";
            default:
                return "unexpected_code";
        }
    }

    /// <summary>RFC 5997: Status-Server is answered with Access-Accept on the authentication port, Accounting-Response on the accounting port.</summary>
    private int StatusReply(RadiusPacket request, ReadOnlySpan<byte> secret, bool isAuthPort, byte[] response)
    {
        _statusServer.Increment();
        var writer = new RadiusPacketWriter(response, isAuthPort ? RadiusCode.AccessAccept : RadiusCode.AccountingResponse, request.Identifier);
        writer.CopyAttributes(request, RadiusAttributeType.ProxyState);
        writer.AddMessageAuthenticator();
        return writer.FinishResponse(request, secret);
    }

    private void Drop(RadiusListener listener, string reason) =>
        metrics.Counter("geo_radius_dropped_total", "RADIUS datagrams dropped, by reason", $"port=\"{listener.Name}\",reason=\"{reason}\"").Increment();

    private void LogUnknownNasRateLimited(IPAddress address)
    {
        var now = time.GetTimestamp();
        var last = _unknownNasLogged.GetOrAdd(address, 0);
        if (last != 0 && time.GetElapsedTime(last, now) < TimeSpan.FromMinutes(1))
        {
            return;
        }

        if (_unknownNasLogged.Count > 10_000)
        {
            _unknownNasLogged.Clear();
        }

        _unknownNasLogged[address] = now;
        LogUnknownNas(_logger, address);
    }

    [LoggerMessage(EventId = 1002, Level = LogLevel.Information, Message = "Region {Region}: RADIUS authentication on {Auth}, accounting on {Acct}; {Shards} shards owned")]
    private static partial void LogListening(ILogger logger, string region, IPEndPoint auth, IPEndPoint acct, int shards);

    [LoggerMessage(EventId = 1003, Level = LogLevel.Warning, Message = "Request from unknown NAS {Address} dropped (logged at most once a minute per address)")]
    private static partial void LogUnknownNas(ILogger logger, IPAddress address);

    [LoggerMessage(EventId = 1004, Level = LogLevel.Information, Message = "Stopping: no new RADIUS requests; finishing those in flight")]
    private static partial void LogStopping(ILogger logger);
}

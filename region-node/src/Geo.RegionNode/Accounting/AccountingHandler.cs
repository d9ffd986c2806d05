using Geo.Radius.Dictionary;
using Geo.Radius;
using Geo.RegionNode.Authentication;
using Geo.RegionNode.Shards;
using Geo.RegionNode.Telemetry;
using Geo.RegionNode.Transport;

namespace Geo.RegionNode.Accounting;

/// <summary>
/// Accounting-Request → commit → Accounting-Response. The response goes out only after the request is
/// committed in its shard database: an acknowledged request is never lost. A request that cannot be
/// committed gets no response, so the NAS retransmits it (here or to its backup region).
/// </summary>
internal sealed class AccountingHandler(
    ShardCatalog catalog, SubscriberLocator locator, ProfileStore profiles, RegionForwarder forwarder, OwnerLeases leases, Metrics metrics, TimeProvider time)
{
    private readonly Counter _answered = metrics.Counter("geo_radius_requests_total", "RADIUS requests answered, by type and result", "type=\"accounting\",result=\"ok\"");
    private readonly Histogram _latency = metrics.Histogram("geo_radius_request_duration_seconds", "Time from receiving a request to sending its answer", Histogram.LatencyBounds, "type=\"accounting\"");

    public Histogram Latency => _latency;

    /// <summary>Commits the request and writes the Accounting-Response; returns its length, or 0 when there is to be no answer.</summary>
    public async ValueTask<int> HandleAsync(RadiusRequest request, byte[] response, CancellationToken cancellationToken)
    {
        var packet = request.Packet;
        if (!packet.TryGetUInt32(RadiusAttributeType.AcctStatusType, out var statusType))
        {
            return Unanswered("no_status_type");
        }

        string? owner = null;
        var committed = (AcctStatusType)statusType switch
        {
            AcctStatusType.Start => await SubmitAsync(request, AccountingKind.Start, o => owner = o, cancellationToken),
            AcctStatusType.InterimUpdate => await SubmitAsync(request, AccountingKind.Interim, o => owner = o, cancellationToken),
            AcctStatusType.Stop => await SubmitAsync(request, AccountingKind.Stop, o => owner = o, cancellationToken),
            AcctStatusType.AccountingOn or AcctStatusType.AccountingOff => await CloseNasSessionsAsync(request, (AcctStatusType)statusType),
            _ => Outcome.Ignored,
        };

        if (committed == Outcome.NotOwner && owner is not null && !request.FromPeer)
        {
            // The owner region commits it; its answer (sent only after its commit) is relayed to the NAS.
            var relayed = await forwarder.ForwardAsync(request, owner, response, cancellationToken);
            if (relayed > 0)
            {
                return relayed;
            }
        }

        switch (committed)
        {
            case Outcome.Committed:
            case Outcome.Ignored:
                _answered.Increment();
                var writer = new RadiusPacketWriter(response, RadiusCode.AccountingResponse, packet.Identifier);
                writer.CopyAttributes(packet, RadiusAttributeType.ProxyState);
                return writer.FinishResponse(packet, request.Secret);
            case Outcome.Malformed:
                return Unanswered("malformed");
            case Outcome.UnknownSubscriber:
                return Unanswered("unknown_subscriber");
            case Outcome.NotOwner:
                return Unanswered("not_owner");
            case Outcome.Rejected:
                return Unanswered("rejected");
            case Outcome.Fenced:
                return Unanswered("fenced");
            default:
                return Unanswered("commit_failed");
        }
    }

    private int Unanswered(string reason)
    {
        metrics.Counter("geo_accounting_unanswered_total", "Accounting requests left unanswered (the NAS retransmits), by reason", $"reason=\"{reason}\"").Increment();
        return 0;
    }

    private async ValueTask<Outcome> SubmitAsync(RadiusRequest request, AccountingKind kind, Action<string> notOwner, CancellationToken cancellationToken)
    {
        var packet = request.Packet;
        if (!packet.TryGetString(RadiusAttributeType.UserName, out var username) || username.Length == 0 ||
            !packet.TryGetString(RadiusAttributeType.AcctSessionId, out var acctSessionId) || acctSessionId.Length == 0)
        {
            return Outcome.Malformed;
        }

        if (HasNul(username) || HasNul(acctSessionId))
        {
            // PostgreSQL stores no NUL in text: refused here, alone, before any lookup or batch.
            AccountingRejections.Count(metrics, "bad_attribute");
            return Outcome.Rejected;
        }

        var tenant = request.Nas.TenantId;
        ShardHandle? shard;
        Guid? subscriberId = null;
        if (TryReadClass(packet, tenant, out var classHome, out var classSubscriber))
        {
            // The Class from our Access-Accept names the shard and subscriber: no lookup needed.
            shard = catalog.Shard(tenant, classHome);
            subscriberId = classSubscriber;
            if (shard is null)
            {
                NotOwnedHere(tenant, classHome, notOwner);
                return Outcome.NotOwner;
            }
        }
        else
        {
            var home = await locator.HomeRegionAsync(tenant, username, cancellationToken);
            if (home is null)
            {
                return Outcome.UnknownSubscriber;
            }

            shard = catalog.Shard(tenant, home);
            if (shard is null)
            {
                NotOwnedHere(tenant, home, notOwner);
                return Outcome.NotOwner;
            }

            subscriberId = (await profiles.GetAsync(shard, username, cancellationToken))?.Id;
        }

        if (!shard.HoldsLease)
        {
            // Not acknowledged without the owner lease: the NAS retransmits to its backup region.
            leases.CountFenced(shard);
            return Outcome.Fenced;
        }

        var now = time.GetUtcNow();
        var eventTime = packet.TryGetTime(RadiusAttributeType.EventTimestamp, out var stamp) ? stamp
            : packet.TryGetUInt32(RadiusAttributeType.AcctDelayTime, out var delay) ? now.AddSeconds(-delay) : now;
        AccountingCounters.TryGetInputOctets(packet, out var inputOctets);
        AccountingCounters.TryGetOutputOctets(packet, out var outputOctets);
        packet.TryGetUInt32(RadiusAttributeType.AcctInputPackets, out var inputPackets);
        packet.TryGetUInt32(RadiusAttributeType.AcctOutputPackets, out var outputPackets);
        packet.TryGetUInt32(RadiusAttributeType.AcctSessionTime, out var sessionTime);
        packet.TryGetString(RadiusAttributeType.NasPortId, out var nasPort);
        packet.TryGetString(RadiusAttributeType.CallingStationId, out var callingStation);
        packet.TryGetIPv4Address(RadiusAttributeType.FramedIpAddress, out var framedIp);
        string? terminateCause = packet.TryGetUInt32(RadiusAttributeType.AcctTerminateCause, out var cause)
            ? ((AcctTerminateCause)cause).ToString() : null;
        if (HasNul(nasPort) || HasNul(callingStation) || inputOctets > long.MaxValue || outputOctets > long.MaxValue)
        {
            // As above; and no counter past 2^63 octets is real.
            AccountingRejections.Count(metrics, "bad_attribute");
            return Outcome.Rejected;
        }

        var accountingEvent = new AccountingEvent(kind, request.Nas.Id, acctSessionId, username, subscriberId, eventTime,
            new Counters((long)inputOctets, (long)outputOctets, inputPackets, outputPackets, sessionTime),
            nasPort, callingStation, framedIp, terminateCause);
        return await shard.Writer!.SubmitAsync(accountingEvent) switch
        {
            AccountingOutcome.Committed => Outcome.Committed,
            AccountingOutcome.Rejected => Outcome.Rejected,
            _ => Outcome.Failed,
        };
    }

    private async ValueTask<Outcome> CloseNasSessionsAsync(RadiusRequest request, AcctStatusType statusType)
    {
        var cause = statusType == AcctStatusType.AccountingOn ? "NAS-Reboot (Accounting-On)" : "NAS-Reboot (Accounting-Off)";
        var at = time.GetUtcNow();
        var shards = catalog.ShardsOf(request.Nas.TenantId).ToList();
        if (shards.FirstOrDefault(s => !s.HoldsLease) is { } fenced)
        {
            leases.CountFenced(fenced);
            return Outcome.Fenced;
        }

        var results = await Task.WhenAll(shards.Select(s => s.Writer!.CloseNasSessionsAsync(request.Nas.Id, at, cause)));
        return results.All(o => o == AccountingOutcome.Committed) ? Outcome.Committed : Outcome.Failed;
    }

    private static bool HasNul(string? value) => value is not null && value.Contains('\0', StringComparison.Ordinal);

    private void NotOwnedHere(string tenant, string home, Action<string> notOwner)
    {
        if (catalog.OwnerOf(tenant, home) is { } owner)
        {
            notOwner(owner);
        }
    }

    /// <summary>Reads our own Class (<c>geo:tenant:home:subscriber</c>); false for anything else.</summary>
    private static bool TryReadClass(RadiusPacket packet, string tenant, out string home, out Guid subscriber)
    {
        home = "";
        subscriber = Guid.Empty;
        if (!packet.TryGetString(RadiusAttributeType.Class, out var value))
        {
            return false;
        }

        var parts = value.Split(':');
        if (parts.Length != 4 || parts[0] != "geo" || parts[1] != tenant ||
            !Guid.TryParseExact(parts[3], "N", out subscriber))
        {
            return false;
        }

        home = parts[2];
        return home.Length > 0;
    }

    private enum Outcome
    {
        Committed,
        Fenced,
        Ignored,
        Malformed,
        UnknownSubscriber,
        NotOwner,
        Rejected,
        Failed,
    }
}

/// <summary><c>geo_accounting_rejected_total{reason}</c>: requests refused for what they hold, each alone (never their batch).</summary>
internal static class AccountingRejections
{
    public static void Count(Metrics metrics, string reason) =>
        metrics.Counter("geo_accounting_rejected_total", "Accounting requests refused for what they hold, by reason; each alone, the rest of its batch is committed", $"reason=\"{reason}\"").Increment();
}

using Geo.Radius.Dictionary;
using Geo.Radius;
using Geo.RegionNode.Authentication;
using Geo.RegionNode.Shards;
using Geo.RegionNode.Survival;
using Geo.RegionNode.Telemetry;
using Geo.RegionNode.Transport;
using Microsoft.Extensions.Options;

namespace Geo.RegionNode.Accounting;

/// <summary>
/// Accounting-Request → commit → Accounting-Response. The response goes out only after the request is
/// committed in its shard database: an acknowledged request is never lost. A request that cannot be
/// committed gets no response, so the NAS retransmits it (here or to its backup region). A request for a shard owned
/// elsewhere is forwarded to its owner; for a shard this region stands by for, whose owner does not answer (or is deemed
/// down), it is committed to the survivability journal instead and acknowledged from there.
/// </summary>
internal sealed class AccountingHandler(
    ShardCatalog catalog, SubscriberLocator locator, ProfileStore profiles, RegionForwarder forwarder, OwnerLeases leases, OwnerHealth owners,
    SurvivalJournal journal, IOptions<RegionNodeOptions> options, Metrics metrics, TimeProvider time)
{
    private readonly TimeSpan _forwardTimeout = options.Value.ForwardTimeout;
    private readonly Counter _journaled = metrics.Counter("geo_survival_requests_total", "Requests for shards owned elsewhere answered here because their owner could not be reached, by type", "type=\"accounting\"");
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

        if ((AcctStatusType)statusType is AcctStatusType.AccountingOn or AcctStatusType.AccountingOff)
        {
            return await NasRestartAsync(request, (AcctStatusType)statusType, response, cancellationToken);
        }

        string? home = null;
        string? owner = null;
        void NotOwner(string h, string? o) => (home, owner) = (h, o);
        var committed = (AcctStatusType)statusType switch
        {
            AcctStatusType.Start => await SubmitAsync(request, AccountingKind.Start, NotOwner, cancellationToken),
            AcctStatusType.InterimUpdate => await SubmitAsync(request, AccountingKind.Interim, NotOwner, cancellationToken),
            AcctStatusType.Stop => await SubmitAsync(request, AccountingKind.Stop, NotOwner, cancellationToken),
            _ => Outcome.Ignored,
        };

        if (committed == Outcome.NotOwner && home is not null && !request.FromPeer)
        {
            // The owner region commits it; its answer (sent only after its commit) is relayed to the NAS. For a shard
            // stood by for here, an owner that does not answer in time (or is deemed down) leaves it to the journal.
            // While the journal holds requests of the shard not yet handed over, later ones join them there: the owner
            // gets a shard's accounting in the order it was acknowledged.
            var survivable = !request.Replayed && catalog.Replica(request.Nas.TenantId, home) is not null;
            if (owner is not null && (!survivable || (!journal.Holds(request.Nas.TenantId, home) && owners.ShouldForward(owner))))
            {
                // Accounting has no answer to give the NAS quickly: the owner gets one try of the whole forward timeout.
                var relayed = await forwarder.ForwardAsync(request, owner, response, cancellationToken, within: survivable ? _forwardTimeout : null);
                if (relayed > 0)
                {
                    owners.Answered(owner);
                    return relayed;
                }

                if (forwarder.Secret is not null)
                {
                    owners.TimedOut(owner);
                }
            }

            if (survivable)
            {
                return await JournalAsync(request, home, statusType, response);
            }
        }

        switch (committed)
        {
            case Outcome.Committed:
            case Outcome.Ignored:
                return Acknowledge(request, response);
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

    /// <summary>Commits the request to the survivability journal, then acknowledges it; unanswered when it cannot be committed.</summary>
    private async ValueTask<int> JournalAsync(RadiusRequest request, string home, uint statusType, byte[] response)
    {
        var packet = request.Packet;
        packet.TryGetString(RadiusAttributeType.UserName, out var username);
        packet.TryGetString(RadiusAttributeType.AcctSessionId, out var acctSessionId);
        if (!await journal.AppendAsync(request, request.Nas.TenantId, home, username!, acctSessionId!, statusType, EventTime(packet, time.GetUtcNow())))
        {
            return Unanswered("journal_failed");
        }

        _journaled.Increment();
        return Acknowledge(request, response);
    }

    /// <summary>The Accounting-Response, once what it acknowledges is durable.</summary>
    private int Acknowledge(RadiusRequest request, byte[] response)
    {
        _answered.Increment();
        var writer = new RadiusPacketWriter(response, RadiusCode.AccountingResponse, request.Packet.Identifier);
        writer.CopyAttributes(request.Packet, RadiusAttributeType.ProxyState);
        return writer.FinishResponse(request.Packet, request.Secret);
    }

    /// <summary>When the event happened: its Event-Timestamp, else now less its Acct-Delay-Time.</summary>
    private static DateTimeOffset EventTime(RadiusPacket packet, DateTimeOffset now) =>
        packet.TryGetTime(RadiusAttributeType.EventTimestamp, out var stamp) ? stamp
        : packet.TryGetUInt32(RadiusAttributeType.AcctDelayTime, out var delay) ? now.AddSeconds(-delay) : now;

    private int Unanswered(string reason)
    {
        metrics.Counter("geo_accounting_unanswered_total", "Accounting requests left unanswered (the NAS retransmits), by reason", $"reason=\"{reason}\"").Increment();
        return 0;
    }

    private async ValueTask<Outcome> SubmitAsync(RadiusRequest request, AccountingKind kind, Action<string, string?> notOwner, CancellationToken cancellationToken)
    {
        var packet = request.Packet;
        if (!packet.TryGetString(RadiusAttributeType.UserName, out var username) || username.Length == 0 ||
            !packet.TryGetString(RadiusAttributeType.AcctSessionId, out var acctSessionId) || acctSessionId.Length == 0)
        {
            return Outcome.Malformed;
        }

        AccountingCounters.TryGetInputOctets(packet, out var inputOctets);
        AccountingCounters.TryGetOutputOctets(packet, out var outputOctets);
        packet.TryGetString(RadiusAttributeType.NasPortId, out var nasPort);
        packet.TryGetString(RadiusAttributeType.CallingStationId, out var callingStation);
        if (HasNul(username) || HasNul(acctSessionId) || HasNul(nasPort) || HasNul(callingStation) || inputOctets > long.MaxValue || outputOctets > long.MaxValue)
        {
            // PostgreSQL stores no NUL in text, and no counter past 2^63 octets is real: refused here, alone, before any
            // lookup or batch (and before a journal at a standby, which its owner would then refuse for ever).
            AccountingRejections.Count(metrics, "bad_attribute");
            return Outcome.Rejected;
        }

        var tenant = request.Nas.TenantId;
        ShardHandle? shard;
        Guid? subscriberId = null;
        if (TryReadClass(packet, tenant, out var classHome, out var classSubscriber))
        {
            // The Class from our Access-Accept names the shard and subscriber: no lookup needed.
            shard = await OwnedOrHeldAsync(tenant, classHome, request, cancellationToken);
            subscriberId = classSubscriber;
            if (shard is null)
            {
                notOwner(classHome, catalog.OwnerOf(tenant, classHome));
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

            shard = await OwnedOrHeldAsync(tenant, home, request, cancellationToken);
            if (shard is null)
            {
                notOwner(home, catalog.OwnerOf(tenant, home));
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

        var eventTime = EventTime(packet, time.GetUtcNow());
        packet.TryGetUInt32(RadiusAttributeType.AcctInputPackets, out var inputPackets);
        packet.TryGetUInt32(RadiusAttributeType.AcctOutputPackets, out var outputPackets);
        packet.TryGetUInt32(RadiusAttributeType.AcctSessionTime, out var sessionTime);
        packet.TryGetIPv4Address(RadiusAttributeType.FramedIpAddress, out var framedIp);
        string? terminateCause = packet.TryGetUInt32(RadiusAttributeType.AcctTerminateCause, out var cause)
            ? ((AcctTerminateCause)cause).ToString() : null;
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

    /// <summary>
    /// The shard when it is owned here; while a planned switchover moves it, the request is held until the directory names
    /// its owner again (at most <see cref="RegionNodeOptions.SwitchoverHold"/>), then routed as it says.
    /// </summary>
    private async ValueTask<ShardHandle?> OwnedOrHeldAsync(string tenant, string home, RadiusRequest request, CancellationToken cancellationToken)
    {
        var shard = catalog.Shard(tenant, home);
        if (shard is null && !request.Replayed && catalog.IsSwitching(tenant, home))
        {
            await catalog.WaitWhileSwitchingAsync(tenant, home, options.Value.SwitchoverHold, cancellationToken);
            shard = catalog.Shard(tenant, home);
        }

        return shard;
    }

    /// <summary>
    /// Accounting-On/Off: the NAS restarted, so every session of it started before then is over, in every shard of its
    /// tenant wherever that shard is owned: closed here in the shards owned here, and sent once to each other owner
    /// region (which closes them in its own). For a shard this region stands by for whose owner cannot take it, it is
    /// journaled like any accounting. Acknowledged only once every shard has it; otherwise no answer, and the NAS sends
    /// it again. One handed over from a journal (<see cref="RadiusRequest.JournalHome"/>) is for that shard alone; one
    /// forwarded by a peer, for the shards owned here.
    /// </summary>
    private async ValueTask<int> NasRestartAsync(RadiusRequest request, AcctStatusType statusType, byte[] response, CancellationToken cancellationToken)
    {
        var tenant = request.Nas.TenantId;
        var at = EventTime(request.Packet, time.GetUtcNow());
        var cause = statusType == AcctStatusType.AccountingOn ? "NAS-Reboot (Accounting-On)" : "NAS-Reboot (Accounting-Off)";
        bool Targeted(string home) => request.JournalHome is null || request.JournalHome == home;
        var owned = catalog.ShardsOf(tenant).Where(s => Targeted(s.HomeRegion)).ToList();
        if (owned.FirstOrDefault(s => !s.HoldsLease) is { } fenced)
        {
            leases.CountFenced(fenced);
            return Unanswered("fenced");
        }

        if (catalog.OwnersOf(tenant).Any(o => o.Owner == options.Value.RegionId && Targeted(o.Home) && catalog.Shard(tenant, o.Home) is null))
        {
            // Owned here by the directory, but not served yet (its database unreachable, or its fence not yet raised).
            return Unanswered("shard_unavailable");
        }

        var closing = Task.WhenAll(owned.Select(s => s.Writer!.CloseNasSessionsAsync(request.Nas.Id, at, cause)));
        var elsewhere = request.FromPeer ? [] : catalog.OwnersOf(tenant)
            .Where(o => o.Owner != options.Value.RegionId && Targeted(o.Home) && catalog.Shard(tenant, o.Home) is null)
            .GroupBy(o => o.Owner, o => o.Home, StringComparer.Ordinal)
            .ToList();
        var handed = await Task.WhenAll(elsewhere.Select(g => NasRestartElsewhereAsync(request, g.Key, [.. g], statusType, at, cancellationToken)));
        var closed = await closing;
        if (closed.Any(o => o != AccountingOutcome.Committed))
        {
            return Unanswered("commit_failed");
        }

        return handed.All(ok => ok) ? Acknowledge(request, response) : Unanswered("owner_unreachable");
    }

    /// <summary>
    /// Hands a NAS restart to <paramref name="owner"/>, the region owning the tenant's shards <paramref name="homes"/>;
    /// those stood by for here are journaled instead when it cannot take it (or while their journal holds requests not
    /// handed over yet, so that it gets them in order). True once every one of them has it.
    /// </summary>
    private async Task<bool> NasRestartElsewhereAsync(RadiusRequest request, string owner, List<string> homes, AcctStatusType statusType, DateTimeOffset at,
        CancellationToken cancellationToken)
    {
        var tenant = request.Nas.TenantId;
        var survivable = request.Replayed ? [] : homes.Where(h => catalog.Replica(tenant, h) is not null).ToList();
        var allSurvivable = survivable.Count == homes.Count;
        if (!allSurvivable || (!survivable.Any(h => journal.Holds(tenant, h)) && owners.ShouldForward(owner)))
        {
            var answer = new byte[RadiusPacket.MaxLength];
            if (await forwarder.ForwardAsync(request, owner, answer, cancellationToken, within: allSurvivable ? _forwardTimeout : null) > 0)
            {
                owners.Answered(owner);
                return true;
            }

            if (forwarder.Secret is not null)
            {
                owners.TimedOut(owner);
            }
        }

        foreach (var home in survivable)
        {
            if (!await journal.AppendAsync(request, tenant, home, username: "", acctSessionId: "", (uint)statusType, at))
            {
                return false;
            }

            _journaled.Increment();
        }

        return allSurvivable;
    }

    private static bool HasNul(string? value) => value is not null && value.Contains('\0', StringComparison.Ordinal);

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

using System.Security.Cryptography;
using Geo.Radius.Dictionary;
using Geo.Radius.Security;
using Geo.Radius;
using Geo.RegionNode.Caching;
using Geo.RegionNode.ChangeOfAuthorization;
using Geo.RegionNode.Shards;
using Geo.RegionNode.Survival;
using Geo.RegionNode.Telemetry;
using Geo.RegionNode.Transport;
using Geo.Schema.Secrets;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Geo.RegionNode.Authentication;

/// <summary>
/// Access-Request → Access-Accept or Access-Reject: PAP or CHAP against the subscriber's sealed password,
/// account status and validity, the plan's Simultaneous-Use limit, and the plan's attributes in the accept.
/// </summary>
internal sealed partial class AuthenticationHandler(
    ShardCatalog catalog,
    SubscriberLocator locator,
    ProfileStore profiles,
    SecretBox secrets,
    RegionForwarder forwarder,
    OwnerLeases leases,
    OwnerHealth owners,
    IOptions<RegionNodeOptions> options,
    Metrics metrics,
    TimeProvider time)
{
    private readonly Counter _accepts = metrics.Counter("geo_radius_requests_total", "RADIUS requests answered, by type and result", "type=\"access\",result=\"accept\"");
    private readonly Counter _rejects = metrics.Counter("geo_radius_requests_total", "RADIUS requests answered, by type and result", "type=\"access\",result=\"reject\"");
    private readonly Counter _survival = metrics.Counter("geo_survival_requests_total", "Requests for shards owned elsewhere answered here because their owner could not be reached, by type", "type=\"access\"");
    private readonly Histogram _latency = metrics.Histogram("geo_radius_request_duration_seconds", "Time from receiving a request to sending its answer", Histogram.LatencyBounds, "type=\"access\"");

    public Histogram Latency => _latency;

    private int Unanswered(string reason)
    {
        metrics.Counter("geo_auth_unanswered_total", "Access-Requests left unanswered (the NAS retries or fails over), by reason", $"reason=\"{reason}\"").Increment();
        return 0;
    }

    /// <summary>Decides and writes the answer into <paramref name="response"/>; returns its length.</summary>
    public async ValueTask<int> HandleAsync(RadiusRequest request, byte[] response, CancellationToken cancellationToken)
    {
        var decision = await DecideAsync(request, cancellationToken);
        if (decision.Silent)
        {
            // Fenced, or no owner to be found: no answer at all, so the NAS retries and fails over to its backup region.
            return ReferenceEquals(decision, Decision.Fenced) ? 0 : Unanswered(decision.Reason);
        }

        if (decision.ForwardTo is { } owner)
        {
            // Another region owns the subscriber's shard: it decides, this region relays. When this region stands by
            // for the shard and the owner does not answer in time (or is deemed down), the replica decides.
            var replica = decision.Replica;
            if (replica is null || owners.ShouldForward(owner))
            {
                var relayed = await forwarder.ForwardAsync(request, owner, response, cancellationToken,
                    within: replica is null ? null : options.Value.SurvivalForwardTimeout);
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

            if (replica is null)
            {
                // Never a reject because another region could not be reached: silent, the NAS retries or fails over.
                return Unanswered("owner_unreachable");
            }

            decision = await OnReplicaAsync(request, replica, decision.Profile, cancellationToken);
            if (decision.Silent)
            {
                return Unanswered(decision.Reason);
            }

            _survival.Increment();
        }

        if (decision.Accepted)
        {
            _accepts.Increment();
            return WriteAccept(request, decision, response);
        }

        metrics.Counter("geo_auth_rejects_total", "Access-Rejects by reason", $"reason=\"{decision.Reason}\"").Increment();
        _rejects.Increment();
        return WriteReject(request, decision.ReplyMessage, response);
    }

    private async ValueTask<Decision> DecideAsync(RadiusRequest request, CancellationToken cancellationToken)
    {
        if (!request.Packet.TryGetString(RadiusAttributeType.UserName, out var username) || username.Length == 0)
        {
            return Decision.Reject("no_username", "Authentication failed");
        }

        if (username.Contains('\0', StringComparison.Ordinal))
        {
            // No subscriber can have it (the API refuses it) and PostgreSQL cannot compare it: rejected before any lookup.
            return Decision.Reject("bad_username", "Authentication failed");
        }

        var (home, shard, profile) = await FindAsync(request.Nas.TenantId, username, cancellationToken);
        if (home is null)
        {
            return Decision.Reject("unknown_user", "Authentication failed");
        }

        if (shard is null && catalog.IsSwitching(request.Nas.TenantId, home))
        {
            // A planned switchover: held until the directory names the owner again, then answered by it.
            await catalog.WaitWhileSwitchingAsync(request.Nas.TenantId, home, options.Value.SwitchoverHold, cancellationToken);
            (home, shard, profile) = await FindAsync(request.Nas.TenantId, username, cancellationToken);
            if (home is null)
            {
                return Decision.Reject("unknown_user", "Authentication failed");
            }
        }

        if (shard is null || shard.IsReplica)
        {
            // Owned by another region. Its owner decides; a replica stood by with here decides when the owner cannot.
            var replica = shard ?? catalog.Replica(request.Nas.TenantId, home);
            if (request.FromPeer)
            {
                // A peer took this region for the owner (the map moved on since): silent, so the NAS asks again.
                return Decision.Unanswered("not_owner");
            }

            if (catalog.OwnerOf(request.Nas.TenantId, home) is { } owner)
            {
                return new Decision(false, "", "", Profile: shard is null ? null : profile, ForwardTo: owner, Replica: replica);
            }

            // No owner while the shard is being promoted: its replica here answers, or nobody (never a reject for that).
            return replica is not null ? await OnReplicaAsync(request, replica, shard is null ? null : profile, cancellationToken) : Decision.Unanswered("no_owner");
        }

        if (!shard.HoldsLease)
        {
            // Without the owner lease this node may be a cut-off owner whose shard was promoted elsewhere: neither an
            // accept (two owners) nor a reject (a valid subscriber turned away) is right.
            leases.CountFenced(shard);
            return Decision.Fenced;
        }

        return await JudgeAsync(request, shard, profile, cancellationToken);
    }

    /// <summary>Decides from the replica of a shard stood by for here: the owner could not be asked (survivability).</summary>
    private async ValueTask<Decision> OnReplicaAsync(RadiusRequest request, ShardHandle replica, AuthProfile? read, CancellationToken cancellationToken)
    {
        request.Packet.TryGetString(RadiusAttributeType.UserName, out var username);
        try
        {
            return await JudgeAsync(request, replica, read ?? await profiles.GetAsync(replica, username!, cancellationToken), cancellationToken);
        }
        catch (Exception ex) when (ex is NpgsqlException or IOException or TimeoutException)
        {
            // The replica cannot be read either: no answer rather than a wrong one.
            return Decision.Unanswered("replica_unreadable");
        }
    }

    /// <summary>The decision for a subscriber found (or not) in <paramref name="shard"/>: owned here, or a replica.</summary>
    private async ValueTask<Decision> JudgeAsync(RadiusRequest request, ShardHandle shard, AuthProfile? profile, CancellationToken cancellationToken)
    {
        if (profile is null)
        {
            return Decision.Reject("unknown_user", "Authentication failed");
        }

        var credentials = CheckCredentials(request, profile);
        if (credentials is not null)
        {
            return Decision.Reject(credentials, "Authentication failed");
        }

        if (profile.Suspended)
        {
            return Decision.Reject("suspended", "Account suspended");
        }

        if (profile.ValidUntil is { } validUntil && validUntil <= time.GetUtcNow())
        {
            return Decision.Reject("expired", "Account expired");
        }

        if (!shard.Plans.TryGetValue(profile.PlanId, out var plan))
        {
            return Decision.Reject("no_plan", "Authentication failed");
        }

        // Quota or prepaid balance used up: rejected on a disconnect plan, admitted at the reduced rate on a throttle plan.
        var exhausted = plan.IsRated && (profile.QuotaExhausted || (plan.Tariff.IsPriced && !plan.Tariff.AllowOverdraft && profile.BalanceMicros <= 0));
        if (exhausted && plan.Tariff.Exhaustion == Rating.ExhaustionAction.Disconnect)
        {
            return Decision.Reject("quota_exhausted", plan.Tariff.IsPriced ? "Balance exhausted" : "Quota exhausted");
        }

        request.Packet.TryGetString(RadiusAttributeType.UserName, out var username);
        var open = await profiles.CountOpenSessionsAsync(shard, profile.Id, username!, cancellationToken);
        if (!shard.IsReplica && !shard.HoldsLease)
        {
            // The lease ran out while the sessions were counted (a slow database, a starved node): the answer is given
            // now, so it is judged now.
            leases.CountFenced(shard);
            return Decision.Fenced;
        }

        if (open >= plan.SimultaneousUse)
        {
            return Decision.Reject("simultaneous_use", "Simultaneous-Use limit reached");
        }

        return new Decision(true, "", "", shard, profile, plan, Throttled: exhausted);
    }

    /// <summary>
    /// The subscriber's shard and profile, or the region to forward to. A remembered home region goes straight to its shard.
    /// Otherwise the subscriber is looked for in the tenant's shards owned here first: the cold path of a login (after a
    /// node restart, a failover, a BNG's mass re-login) then costs one batched read of its own shard, not a directory query
    /// as well. Only a subscriber found in none of them is placed through the directory (served elsewhere, or unknown).
    /// Placements never move and a username has one active row in its tenant, so a row found here is its home.
    /// </summary>
    private async ValueTask<(string? Home, ShardHandle? Shard, AuthProfile? Profile)> FindAsync(string tenant, string username, CancellationToken cancellationToken)
    {
        if (!locator.TryGetKnownHome(tenant, username, out var home))
        {
            // The replicas stood by for here whose owner is deemed down or being promoted are read at the same time as
            // the shards owned here: after a region is lost its subscribers all log in again here, and the replica
            // answers them without a directory query, and without waiting for the own shards' misses first.
            var replicaReads = catalog.ReplicasOf(tenant)
                .Where(r => r.OwnerRegion is null || owners.IsDown(r.OwnerRegion))
                .Select(r => (Replica: r, Read: ObservedAsync(profiles.GetAsync(r, username, cancellationToken))))
                .ToList();
            var tried = 0;
            foreach (var local in catalog.ShardsOf(tenant))
            {
                if (await profiles.GetAsync(local, username, cancellationToken) is { } found)
                {
                    // Remembered only when it saves a read next time (a tenant with several shards here, after a
                    // promotion): an entry per login would be kept for nothing, and its memory collected later.
                    if (tried > 0)
                    {
                        locator.Remember(tenant, username, local.HomeRegion);
                    }

                    return (local.HomeRegion, local, found);
                }

                tried++;
            }

            foreach (var (replica, read) in replicaReads)
            {
                if (await read is { } found)
                {
                    locator.Remember(tenant, username, replica.HomeRegion);
                    return (replica.HomeRegion, replica, found);
                }
            }

            string? placed;
            try
            {
                placed = await locator.HomeRegionAsync(tenant, username, cancellationToken);
            }
            catch (Exception ex) when (ex is NpgsqlException or IOException or TimeoutException)
            {
                // The directory cannot be asked: a subscriber of a shard stood by for here is still found in its replica.
                foreach (var replica in catalog.ReplicasOf(tenant))
                {
                    if (await profiles.GetAsync(replica, username, cancellationToken) is { } found)
                    {
                        return (replica.HomeRegion, replica, found);
                    }
                }

                throw;
            }

            if (placed is null)
            {
                return (null, null, null);
            }

            home = placed;
        }

        return catalog.Shard(tenant, home) is { } shard ? (home, shard, await profiles.GetAsync(shard, username, cancellationToken)) : (home, null, null);
    }

    /// <summary>A read that may be left unawaited (the subscriber was found elsewhere first) without its failure going unobserved.</summary>
    private static Task<AuthProfile?> ObservedAsync(ValueTask<AuthProfile?> read)
    {
        var task = read.AsTask();
        _ = task.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        return task;
    }

    /// <summary>Null when the credentials are right, else the reject reason. Synchronous: the clear password lives on the stack only.</summary>
    private string? CheckCredentials(RadiusRequest request, AuthProfile profile)
    {
        if (!secrets.TryOpen(profile.SealedPassword, SecretContext.SubscriberPassword(profile.Id), out var password))
        {
            return "unreadable_password";
        }

        try
        {
            var chap = ChapPassword.Verify(request.Packet, password);
            if (chap != ChapStatus.Absent)
            {
                return chap == ChapStatus.Valid ? null : "bad_password";
            }

            Span<byte> offered = stackalloc byte[UserPassword.MaxPasswordLength];
            var status = UserPassword.TryRecover(request.Packet, request.Secret, offered, out var written);
            var result = status switch
            {
                UserPasswordStatus.Ok => CryptographicOperations.FixedTimeEquals(offered[..written], password) ? null : "bad_password",
                UserPasswordStatus.Absent => "no_credentials",
                _ => "bad_password",
            };
            CryptographicOperations.ZeroMemory(offered);
            return result;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(password);
        }
    }

    private static int WriteAccept(RadiusRequest request, Decision decision, byte[] response)
    {
        var plan = decision.Plan!;
        var writer = new RadiusPacketWriter(response, RadiusCode.AccessAccept, request.Packet.Identifier);
        writer.CopyAttributes(request.Packet, RadiusAttributeType.ProxyState);
        if (plan.SessionTimeoutSeconds is { } timeout)
        {
            writer.AddUInt32(RadiusAttributeType.SessionTimeout, (uint)timeout);
        }

        writer.AddUInt32(RadiusAttributeType.AcctInterimInterval, (uint)plan.InterimIntervalSeconds);
        if (decision.Profile!.FramedIp is { AddressFamily: System.Net.Sockets.AddressFamily.InterNetwork } address)
        {
            writer.AddIPv4Address(RadiusAttributeType.FramedIpAddress, address);
        }
        else if (plan.FramedPool is { Length: > 0 } pool)
        {
            writer.AddString(RadiusAttributeType.FramedPool, pool);
        }

        // Class comes back in every Accounting-Request of the session: it ties the session to its shard and subscriber.
        writer.AddString(RadiusAttributeType.Class, $"geo:{decision.Shard!.TenantId}:{decision.Shard.HomeRegion}:{decision.Profile!.Id:N}");
        if (decision.Throttled && plan is { ThrottleDownloadKbps: { } slowDown, ThrottleUploadKbps: { } slowUp })
        {
            VendorRates.Add(ref writer, request.Nas.Vendor, slowDown, slowUp);
        }
        else if (plan is { DownloadKbps: { } down, UploadKbps: { } up })
        {
            VendorRates.Add(ref writer, request.Nas.Vendor, down, up);
        }

        writer.AddMessageAuthenticator();
        return writer.FinishResponse(request.Packet, request.Secret);
    }

    private static int WriteReject(RadiusRequest request, string replyMessage, byte[] response)
    {
        var writer = new RadiusPacketWriter(response, RadiusCode.AccessReject, request.Packet.Identifier);
        writer.CopyAttributes(request.Packet, RadiusAttributeType.ProxyState);
        writer.AddString(RadiusAttributeType.ReplyMessage, replyMessage);
        writer.AddMessageAuthenticator();
        return writer.FinishResponse(request.Packet, request.Secret);
    }

    private sealed record Decision(bool Accepted, string Reason, string ReplyMessage, ShardHandle? Shard = null, AuthProfile? Profile = null, Plan? Plan = null,
        bool Throttled = false, string? ForwardTo = null, bool Silent = false, ShardHandle? Replica = null)
    {
        /// <summary>Left unanswered: the shard's owner lease is not held.</summary>
        public static readonly Decision Fenced = new(false, "fenced", "", Silent: true);

        /// <summary>Left unanswered for <paramref name="reason"/> (counted), so the NAS retries or fails over.</summary>
        public static Decision Unanswered(string reason) => new(false, reason, "", Silent: true);

        public static Decision Reject(string reason, string replyMessage) => new(false, reason, replyMessage);
    }
}

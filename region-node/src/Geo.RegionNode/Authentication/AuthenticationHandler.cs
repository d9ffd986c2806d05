using System.Security.Cryptography;
using Geo.Radius.Dictionary;
using Geo.Radius.Security;
using Geo.Radius;
using Geo.RegionNode.Caching;
using Geo.RegionNode.ChangeOfAuthorization;
using Geo.RegionNode.Shards;
using Geo.RegionNode.Telemetry;
using Geo.RegionNode.Transport;
using Geo.Schema.Secrets;

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
    Metrics metrics,
    TimeProvider time)
{
    private readonly Counter _accepts = metrics.Counter("geo_radius_requests_total", "RADIUS requests answered, by type and result", "type=\"access\",result=\"accept\"");
    private readonly Counter _rejects = metrics.Counter("geo_radius_requests_total", "RADIUS requests answered, by type and result", "type=\"access\",result=\"reject\"");
    private readonly Histogram _latency = metrics.Histogram("geo_radius_request_duration_seconds", "Time from receiving a request to sending its answer", Histogram.LatencyBounds, "type=\"access\"");

    public Histogram Latency => _latency;

    /// <summary>Decides and writes the answer into <paramref name="response"/>; returns its length.</summary>
    public async ValueTask<int> HandleAsync(RadiusRequest request, byte[] response, CancellationToken cancellationToken)
    {
        var decision = await DecideAsync(request, cancellationToken);
        if (decision.Silent)
        {
            // Fenced: no answer at all, so the NAS retries and fails over to its backup region.
            return 0;
        }

        if (decision.ForwardTo is { } owner)
        {
            // Another region owns the subscriber's shard: it decides, this region relays.
            var relayed = await forwarder.ForwardAsync(request, owner, response, cancellationToken);
            if (relayed > 0)
            {
                return relayed;
            }

            decision = Decision.Reject("not_owner", "Subscriber is served by another region");
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

        if (shard is null)
        {
            return !request.FromPeer && catalog.OwnerOf(request.Nas.TenantId, home) is { } owner
                ? new Decision(false, "", "", ForwardTo: owner)
                : Decision.Reject("not_owner", "Subscriber is served by another region");
        }

        if (!shard.HoldsLease)
        {
            // Without the owner lease this node may be a cut-off owner whose shard was promoted elsewhere: neither an
            // accept (two owners) nor a reject (a valid subscriber turned away) is right.
            leases.CountFenced(shard);
            return Decision.Fenced;
        }

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

        var open = await profiles.CountOpenSessionsAsync(shard, profile.Id, cancellationToken);
        if (!shard.HoldsLease)
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

            if (await locator.HomeRegionAsync(tenant, username, cancellationToken) is not { } placed)
            {
                return (null, null, null);
            }

            home = placed;
        }

        return catalog.Shard(tenant, home) is { } shard ? (home, shard, await profiles.GetAsync(shard, username, cancellationToken)) : (home, null, null);
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
        bool Throttled = false, string? ForwardTo = null, bool Silent = false)
    {
        /// <summary>Left unanswered: the shard's owner lease is not held.</summary>
        public static readonly Decision Fenced = new(false, "fenced", "", Silent: true);

        public static Decision Reject(string reason, string replyMessage) => new(false, reason, replyMessage);
    }
}

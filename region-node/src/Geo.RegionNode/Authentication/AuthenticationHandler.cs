using System.Globalization;
using System.Security.Cryptography;
using Geo.Radius;
using Geo.Radius.Dictionary;
using Geo.Radius.Security;
using Geo.RegionNode.Caching;
using Geo.RegionNode.Operations;
using Geo.RegionNode.Radius;
using Geo.RegionNode.Shards;
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

        var home = await locator.HomeRegionAsync(request.Nas.TenantId, username, cancellationToken);
        if (home is null)
        {
            return Decision.Reject("unknown_user", "Authentication failed");
        }

        if (catalog.Shard(request.Nas.TenantId, home) is not { } shard)
        {
            // Forwarding to the owner region comes with the router; until then the NAS's other endpoint serves it.
            return Decision.Reject("not_owner", "Subscriber is served by another region");
        }

        var profile = await profiles.GetAsync(shard, username, cancellationToken);
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

        var open = await profiles.CountOpenSessionsAsync(shard, profile.Id, cancellationToken);
        if (open >= plan.SimultaneousUse)
        {
            return Decision.Reject("simultaneous_use", "Simultaneous-Use limit reached");
        }

        return new Decision(true, "", "", shard, profile, plan);
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
        if (plan is { DownloadKbps: { } down, UploadKbps: { } up })
        {
            AddRateLimit(ref writer, request.Nas.Vendor, down, up);
        }

        writer.AddMessageAuthenticator();
        return writer.FinishResponse(request.Packet, request.Secret);
    }

    /// <summary>The plan's rate in the NAS vendor's own attribute.</summary>
    private static void AddRateLimit(ref RadiusPacketWriter writer, string vendor, int downKbps, int upKbps)
    {
        var inv = CultureInfo.InvariantCulture;
        switch (vendor)
        {
            case "mikrotik":
                // rx-rate/tx-rate from the router's side: rx is the subscriber's upload.
                writer.AddVendorString(RadiusVendorId.Mikrotik, MikrotikAttributeType.RateLimit, string.Create(inv, $"{upKbps}k/{downKbps}k"));
                break;
            case "cisco":
                writer.AddVendorString(RadiusVendorId.Cisco, CiscoAttributeType.AvPair, string.Create(inv, $"subscriber:sub-qos-policy-in=GEO-UP-{upKbps}K"));
                writer.AddVendorString(RadiusVendorId.Cisco, CiscoAttributeType.AvPair, string.Create(inv, $"subscriber:sub-qos-policy-out=GEO-DOWN-{downKbps}K"));
                break;
            case "juniper":
                writer.AddVendorString(RadiusVendorId.Erx, ErxAttributeType.IngressPolicyName, string.Create(inv, $"GEO-UP-{upKbps}K"));
                writer.AddVendorString(RadiusVendorId.Erx, ErxAttributeType.EgressPolicyName, string.Create(inv, $"GEO-DOWN-{downKbps}K"));
                break;
            default:
                writer.AddVendorUInt32(RadiusVendorId.Wispr, WisprAttributeType.BandwidthMaxUp, (uint)Math.Min(uint.MaxValue, upKbps * 1000L));
                writer.AddVendorUInt32(RadiusVendorId.Wispr, WisprAttributeType.BandwidthMaxDown, (uint)Math.Min(uint.MaxValue, downKbps * 1000L));
                break;
        }
    }

    private static int WriteReject(RadiusRequest request, string replyMessage, byte[] response)
    {
        var writer = new RadiusPacketWriter(response, RadiusCode.AccessReject, request.Packet.Identifier);
        writer.AddString(RadiusAttributeType.ReplyMessage, replyMessage);
        writer.AddMessageAuthenticator();
        return writer.FinishResponse(request.Packet, request.Secret);
    }

    private sealed record Decision(bool Accepted, string Reason, string ReplyMessage, ShardHandle? Shard = null, AuthProfile? Profile = null, Plan? Plan = null)
    {
        public static Decision Reject(string reason, string replyMessage) => new(false, reason, replyMessage);
    }
}

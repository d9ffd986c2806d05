using System.Net;

namespace Geo.RegionNode.Shards;

/// <summary>
/// A NAS this region accepts requests from, found by the source address of its packets. During a secret
/// rotation the previous secret is accepted until it expires.
/// </summary>
internal sealed class NasClient(
    string tenantId,
    string id,
    IPAddress address,
    byte[] secret,
    byte[]? previousSecret,
    DateTimeOffset? previousSecretExpiresAt,
    string vendor,
    int coaPort,
    bool requireMessageAuthenticator)
{
    public string TenantId { get; } = tenantId;

    public string Id { get; } = id;

    public IPAddress Address { get; } = address;

    public string Vendor { get; } = vendor;

    public int CoaPort { get; } = coaPort;

    public bool RequireMessageAuthenticator { get; } = requireMessageAuthenticator;

    /// <summary>The secrets to try, current first; the previous one only until its overlap window ends.</summary>
    public int SecretCount(DateTimeOffset now) => previousSecret is not null && previousSecretExpiresAt > now ? 2 : 1;

    public ReadOnlySpan<byte> Secret(int index) => index == 0 ? secret : previousSecret;

    public byte[] SecretBytes(int index) => index == 0 ? secret : previousSecret ?? secret;
}

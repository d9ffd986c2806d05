using System.Security.Cryptography;
using System.Text;

namespace Geo.Provisioning;

/// <summary>Tenant API keys: <c>geo_&lt;tenant&gt;_&lt;32 random characters&gt;</c>; only their SHA-256 is stored.</summary>
public static class TenantApiKeys
{
    private const string Alphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";

    /// <summary>A new random key for a tenant.</summary>
    public static string New(string tenantId) => $"geo_{tenantId}_{RandomNumberGenerator.GetString(Alphabet, 32)}";

    /// <summary>The SHA-256 of a key, as stored in the directory.</summary>
    public static byte[] Hash(string key) => SHA256.HashData(Encoding.UTF8.GetBytes(key));
}

/// <summary>
/// Where an issued key is kept before its hash goes to the directory (the local stack: a private file), so that a
/// creation interrupted between the two hands out the same key when resumed. Without one, a key is shown once.
/// </summary>
public interface ITenantKeyStore
{
    /// <summary>The key kept for a tenant, if any.</summary>
    Task<string?> FindAsync(string tenantId, CancellationToken cancellationToken);

    /// <summary>Keeps a tenant's key (replacing one kept before).</summary>
    Task SaveAsync(string tenantId, string key, CancellationToken cancellationToken);

    /// <summary>Forgets a tenant's key (the tenant is gone).</summary>
    Task DeleteAsync(string tenantId, CancellationToken cancellationToken);

    /// <summary>Where the key is kept, for the operator.</summary>
    string Describe(string tenantId);
}

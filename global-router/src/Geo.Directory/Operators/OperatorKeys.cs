using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace Geo.Directory.Operators;

/// <summary>A named operator key as stored: its SHA-256 (never the key), when it was made and when revoked.</summary>
/// <param name="Name">Who holds it (a person or a tool), as the audit log names them.</param>
/// <param name="Sha256">SHA-256 of the key.</param>
/// <param name="CreatedAt">When it was added.</param>
/// <param name="RevokedAt">When it was revoked; null while it works.</param>
public sealed record OperatorKey(string Name, byte[] Sha256, DateTimeOffset CreatedAt, DateTimeOffset? RevokedAt);

/// <summary>Who presented an operator key: a name (null when no key matched) and whether that key is revoked.</summary>
/// <param name="Name">The key's name; <see cref="OperatorKeys.Bootstrap"/> for the configured key; null when none matched.</param>
/// <param name="Revoked">The key matched but was revoked: refused, and audited under its name.</param>
public readonly record struct OperatorIdentity(string? Name, bool Revoked)
{
    /// <summary>Whether the caller may act.</summary>
    public bool Authorized => Name is not null && !Revoked;
}

/// <summary>
/// Operator keys of the admin API: <c>geo_op_&lt;40 random characters&gt;</c>, stored as SHA-256 under a name, and the
/// constant-time check of a presented key against all of them.
/// </summary>
public static partial class OperatorKeys
{
    /// <summary>The audit log's name for the key configured as <c>Router:Admin:OperatorKeySha256</c> (the local stack's own key).</summary>
    public const string Bootstrap = "bootstrap";

    /// <summary>The audit log's name for a caller whose key matched nothing.</summary>
    public const string Unknown = "unknown";

    /// <summary>What a name must look like (the schema checks the same).</summary>
    public const string NameRule = "lower-case letters, digits, '.', '_' and '-', starting with a letter, at most 63 characters, not 'bootstrap' or 'unknown'";

    private const string Alphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";

    /// <summary>A new random key.</summary>
    public static string New() => $"geo_op_{RandomNumberGenerator.GetString(Alphabet, 40)}";

    /// <summary>The SHA-256 of a key, as stored.</summary>
    public static byte[] Hash(string key) => SHA256.HashData(Encoding.UTF8.GetBytes(key));

    /// <summary>Whether <paramref name="name"/> can name a stored key.</summary>
    public static bool IsValidName(string? name) => name is not null && NamePattern().IsMatch(name) && name is not (Bootstrap or Unknown);

    /// <summary>
    /// Who <paramref name="presentedKey"/> belongs to among <paramref name="keys"/> and the bootstrap key
    /// (<paramref name="bootstrapSha256"/>, may be null). Every hash is compared in constant time and none is skipped,
    /// so the time taken does not tell how far a guess got or which key it resembled.
    /// </summary>
    public static OperatorIdentity Identify(string presentedKey, IReadOnlyList<OperatorKey> keys, byte[]? bootstrapSha256)
    {
        ArgumentNullException.ThrowIfNull(presentedKey);
        ArgumentNullException.ThrowIfNull(keys);
        Span<byte> presented = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(Encoding.UTF8.GetBytes(presentedKey), presented);
        var found = default(OperatorIdentity);
        if (bootstrapSha256 is { Length: SHA256.HashSizeInBytes } && CryptographicOperations.FixedTimeEquals(presented, bootstrapSha256))
        {
            found = new OperatorIdentity(Bootstrap, false);
        }

        foreach (var key in keys)
        {
            if (key.Sha256.Length == SHA256.HashSizeInBytes && CryptographicOperations.FixedTimeEquals(presented, key.Sha256) && found.Name is null)
            {
                found = new OperatorIdentity(key.Name, key.RevokedAt is not null);
            }
        }

        return found;
    }

    [GeneratedRegex("^[a-z][a-z0-9._-]{0,62}$")]
    private static partial Regex NamePattern();
}

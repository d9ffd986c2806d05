using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;

namespace Geo.Hosting;

/// <summary>
/// Keys sent as <c>Authorization: Bearer &lt;key&gt;</c> (tenant API keys, the operator key) of which only the SHA-256
/// is stored: read from a request and checked in constant time, so a wrong key and an unknown owner look alike.
/// </summary>
public static class BearerKeys
{
    private const string Scheme = "Bearer ";

    // Compared against when there is no stored hash, so that "no such owner" takes as long as "wrong key".
    private static readonly byte[] Unset = new byte[SHA256.HashSizeInBytes];

    /// <summary>Whether the request carries a bearer key at all (what tells 401 from 404).</summary>
    public static bool TryRead(HttpRequest request, out string key)
    {
        ArgumentNullException.ThrowIfNull(request);
        var header = request.Headers.Authorization.ToString();
        key = header.StartsWith(Scheme, StringComparison.Ordinal) ? header[Scheme.Length..].Trim() : "";
        return key.Length > 0;
    }

    /// <summary>
    /// Whether <paramref name="key"/> hashes to <paramref name="expectedSha256"/>; false when none is stored (null)
    /// after the same work as a comparison.
    /// </summary>
    public static bool Matches(string key, byte[]? expectedSha256)
    {
        ArgumentNullException.ThrowIfNull(key);
        Span<byte> presented = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(Encoding.UTF8.GetBytes(key), presented);
        var expected = expectedSha256 is { Length: SHA256.HashSizeInBytes } ? expectedSha256 : Unset;
        return CryptographicOperations.FixedTimeEquals(presented, expected) && !ReferenceEquals(expected, Unset);
    }

    /// <summary>Whether the request carries a bearer key hashing to <paramref name="expectedSha256"/>.</summary>
    public static bool Authorizes(HttpRequest request, byte[]? expectedSha256) =>
        TryRead(request, out var key) && Matches(key, expectedSha256);
}

using System.Security.Cryptography;
using Geo.Radius.Dictionary;

namespace Geo.Radius.Security;

/// <summary>
/// CHAP verification (RFC 1994 §4.1, RFC 2865 §2.2 and §5.3): the CHAP-Password attribute holds the CHAP
/// Identifier and the 16-octet response MD5(Identifier + password + challenge). The challenge is the
/// CHAP-Challenge attribute, or the Request Authenticator when that attribute is absent.
/// </summary>
public static class ChapPassword
{
    /// <summary>The CHAP-Password value length: one octet of CHAP Identifier and a 16-octet response.</summary>
    public const int ValueLength = 1 + ResponseLength;

    /// <summary>The length of a CHAP response.</summary>
    public const int ResponseLength = 16;

    /// <summary>Computes the CHAP response MD5(<paramref name="identifier"/> + <paramref name="password"/> + <paramref name="challenge"/>).</summary>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is shorter than 16 octets.</exception>
    public static void ComputeResponse(byte identifier, ReadOnlySpan<byte> password, ReadOnlySpan<byte> challenge, Span<byte> destination)
    {
        if (destination.Length < ResponseLength)
        {
            throw new ArgumentException("A CHAP response needs 16 octets.", nameof(destination));
        }

        ReadOnlySpan<byte> identifierOctet = [identifier];
        RadiusHash.Md5(identifierOctet, password, challenge, destination);
    }

    /// <summary>Checks a CHAP-Password value (Identifier + response) against the cleartext password and the challenge.</summary>
    public static ChapStatus Verify(ReadOnlySpan<byte> chapPassword, ReadOnlySpan<byte> password, ReadOnlySpan<byte> challenge)
    {
        if (chapPassword.Length != ValueLength || challenge.IsEmpty)
        {
            return ChapStatus.Malformed;
        }

        Span<byte> expected = stackalloc byte[ResponseLength];
        ComputeResponse(chapPassword[0], password, challenge, expected);
        return CryptographicOperations.FixedTimeEquals(expected, chapPassword[1..]) ? ChapStatus.Valid : ChapStatus.Invalid;
    }

    /// <summary>
    /// Checks the CHAP-Password of an Access-Request against the subscriber's cleartext password, using the
    /// CHAP-Challenge attribute if present and the Request Authenticator otherwise.
    /// </summary>
    public static ChapStatus Verify(RadiusPacket request, ReadOnlySpan<byte> password)
    {
        if (!request.TryGetAttribute(RadiusAttributeType.ChapPassword, out var chapPassword))
        {
            return ChapStatus.Absent;
        }

        if (!request.TryGetAttribute(RadiusAttributeType.ChapChallenge, out var challenge))
        {
            challenge = request.Authenticator;
        }

        return Verify(chapPassword, password, challenge);
    }
}

using System.Security.Cryptography;

namespace Geo.Radius.Security;

/// <summary>
/// The Authenticator field: random for Access-Request and Status-Server (RFC 2865 §3), computed for Accounting (RFC 2866 §3),
/// Disconnect and CoA requests (RFC 5176 §2.3) and every response. Constant-time comparisons; malformed packets verify false.
/// </summary>
public static class RadiusAuthenticator
{
    /// <summary>The length of an authenticator.</summary>
    public const int Length = RadiusWire.AuthenticatorLength;

    /// <summary>Fills the first 16 octets of <paramref name="destination"/> from <see cref="RandomNumberGenerator"/>.</summary>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is shorter than 16 octets.</exception>
    public static void CreateRandom(Span<byte> destination)
    {
        EnsureLength(destination.Length, nameof(destination));
        RandomNumberGenerator.Fill(destination[..Length]);
    }

    /// <summary>Fills the first 16 octets of <paramref name="destination"/> from <paramref name="source"/>.</summary>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is shorter than 16 octets.</exception>
    public static void CreateRandom(Span<byte> destination, RandomNumberGenerator source)
    {
        ArgumentNullException.ThrowIfNull(source);
        EnsureLength(destination.Length, nameof(destination));
        source.GetBytes(destination[..Length]);
    }

    /// <summary>
    /// MD5(Code + Identifier + Length + 16 zeros + Attributes + Secret) of an Accounting, Disconnect or CoA request; false if
    /// <paramref name="packet"/> is not one or <paramref name="destination"/> (may be the packet's own field) is too small.
    /// </summary>
    public static bool TryComputeRequestAuthenticator(ReadOnlySpan<byte> packet, ReadOnlySpan<byte> secret, Span<byte> destination)
    {
        if (destination.Length < Length
            || RadiusWire.Validate(packet, out int length) != RadiusReadStatus.Ok
            || !((RadiusCode)packet[0]).HasComputedRequestAuthenticator())
        {
            return false;
        }

        RadiusHash.PacketDigest(packet[..length], RadiusWire.ZeroAuthenticator, secret, destination);
        return true;
    }

    /// <summary>
    /// Verifies the Request Authenticator of an Accounting-Request (RFC 2866 §3), Disconnect-Request or
    /// CoA-Request (RFC 5176 §2.3). An Access-Request's authenticator is random and cannot be verified: false.
    /// </summary>
    public static bool VerifyRequestAuthenticator(ReadOnlySpan<byte> packet, ReadOnlySpan<byte> secret)
    {
        Span<byte> expected = stackalloc byte[Length];
        return TryComputeRequestAuthenticator(packet, secret, expected)
            && CryptographicOperations.FixedTimeEquals(expected, packet.Slice(RadiusWire.AuthenticatorOffset, Length));
    }

    /// <summary>Verifies the Request Authenticator of a read packet; see <see cref="VerifyRequestAuthenticator(ReadOnlySpan{byte}, ReadOnlySpan{byte})"/>.</summary>
    public static bool VerifyRequestAuthenticator(RadiusPacket packet, ReadOnlySpan<byte> secret) =>
        VerifyRequestAuthenticator(packet.Span, secret);

    /// <summary>
    /// MD5(Code + Identifier + Length + RequestAuth + Attributes + Secret); false if <paramref name="response"/> is malformed or
    /// a size is wrong. <paramref name="destination"/> may be the response's own field (a proxy re-signing it).
    /// </summary>
    public static bool TryComputeResponseAuthenticator(
        ReadOnlySpan<byte> response,
        ReadOnlySpan<byte> requestAuthenticator,
        ReadOnlySpan<byte> secret,
        Span<byte> destination)
    {
        if (destination.Length < Length
            || requestAuthenticator.Length != Length
            || RadiusWire.Validate(response, out int length) != RadiusReadStatus.Ok)
        {
            return false;
        }

        RadiusHash.PacketDigest(response[..length], requestAuthenticator, secret, destination);
        return true;
    }

    /// <summary>
    /// Verifies the Response Authenticator of a response received as a client (CoA-ACK/NAK, Disconnect-ACK/NAK,
    /// a proxied Access-Accept): <paramref name="requestAuthenticator"/> is that of the request sent.
    /// </summary>
    public static bool VerifyResponseAuthenticator(ReadOnlySpan<byte> response, ReadOnlySpan<byte> requestAuthenticator, ReadOnlySpan<byte> secret)
    {
        Span<byte> expected = stackalloc byte[Length];
        return TryComputeResponseAuthenticator(response, requestAuthenticator, secret, expected)
            && CryptographicOperations.FixedTimeEquals(expected, response.Slice(RadiusWire.AuthenticatorOffset, Length));
    }

    /// <summary>Verifies the Response Authenticator of a read packet; see <see cref="VerifyResponseAuthenticator(ReadOnlySpan{byte}, ReadOnlySpan{byte}, ReadOnlySpan{byte})"/>.</summary>
    public static bool VerifyResponseAuthenticator(RadiusPacket response, ReadOnlySpan<byte> requestAuthenticator, ReadOnlySpan<byte> secret) =>
        VerifyResponseAuthenticator(response.Span, requestAuthenticator, secret);

    private static void EnsureLength(int length, string parameterName)
    {
        if (length < Length)
        {
            throw new ArgumentException("An authenticator needs 16 octets.", parameterName);
        }
    }
}

using System.Security.Cryptography;

namespace Geo.Radius.Security;

/// <summary>
/// Message-Authenticator (RFC 2869 §5.14, RFC 3579 §3.2, RFC 5176 §3.3): HMAC-MD5 over the packet with its value zeroed and the
/// authenticator field holding the own Request Authenticator (Access-Request, Status-Server), 16 zeros (Accounting, CoA,
/// Disconnect requests) or the answered request's authenticator (responses).
/// </summary>
public static class MessageAuthenticator
{
    /// <summary>
    /// Checks the Message-Authenticator of <paramref name="packet"/> (a datagram; octets past its Length field are
    /// ignored) in constant time. For a response, pass the Request Authenticator of the request it answers; a
    /// response checked without one is <see cref="MessageAuthenticatorStatus.Invalid"/>. Never throws.
    /// </summary>
    public static MessageAuthenticatorStatus Verify(
        ReadOnlySpan<byte> packet,
        ReadOnlySpan<byte> secret,
        ReadOnlySpan<byte> requestAuthenticator = default)
    {
        if (RadiusWire.Validate(packet, out int length) != RadiusReadStatus.Ok)
        {
            return MessageAuthenticatorStatus.Invalid;
        }

        packet = packet[..length];
        if (!RadiusWire.TryFindMessageAuthenticator(packet, out int valueOffset))
        {
            return MessageAuthenticatorStatus.Invalid;
        }

        if (valueOffset < 0)
        {
            return MessageAuthenticatorStatus.Absent;
        }

        if (!TrySelectAuthenticator(packet, requestAuthenticator, out var authenticator))
        {
            return MessageAuthenticatorStatus.Invalid;
        }

        Span<byte> expected = stackalloc byte[RadiusHash.DigestLength];
        RadiusHash.MessageAuthenticator(packet, authenticator, valueOffset, secret, expected);
        return CryptographicOperations.FixedTimeEquals(expected, packet.Slice(valueOffset, RadiusWire.MessageAuthenticatorValueLength))
            ? MessageAuthenticatorStatus.Valid
            : MessageAuthenticatorStatus.Invalid;
    }

    /// <summary>Checks the Message-Authenticator of a read packet; see <see cref="Verify(ReadOnlySpan{byte}, ReadOnlySpan{byte}, ReadOnlySpan{byte})"/>.</summary>
    public static MessageAuthenticatorStatus Verify(
        RadiusPacket packet,
        ReadOnlySpan<byte> secret,
        ReadOnlySpan<byte> requestAuthenticator = default) => Verify(packet.Span, secret, requestAuthenticator);

    /// <summary>
    /// Re-signs a finished packet in place (a proxy changing secrets); sign before computing the authenticator that covers it.
    /// False if malformed, without exactly one Message-Authenticator, or a response without a 16-octet <paramref name="requestAuthenticator"/>.
    /// </summary>
    public static bool TrySign(Span<byte> packet, ReadOnlySpan<byte> secret, ReadOnlySpan<byte> requestAuthenticator = default)
    {
        if (RadiusWire.Validate(packet, out int length) != RadiusReadStatus.Ok)
        {
            return false;
        }

        packet = packet[..length];
        if (!RadiusWire.TryFindMessageAuthenticator(packet, out int valueOffset) || valueOffset < 0)
        {
            return false;
        }

        if (!TrySelectAuthenticator(packet, requestAuthenticator, out var authenticator))
        {
            return false;
        }

        RadiusHash.MessageAuthenticator(packet, authenticator, valueOffset, secret, packet.Slice(valueOffset, RadiusWire.MessageAuthenticatorValueLength));
        return true;
    }

    /// <summary>What the authenticator field holds while the HMAC is computed, by packet code.</summary>
    internal static bool TrySelectAuthenticator(ReadOnlySpan<byte> packet, ReadOnlySpan<byte> requestAuthenticator, out ReadOnlySpan<byte> authenticator)
    {
        var code = (RadiusCode)packet[0];
        if (code.HasComputedRequestAuthenticator())
        {
            authenticator = RadiusWire.ZeroAuthenticator;
            return true;
        }

        if (code.IsRequest())
        {
            authenticator = packet.Slice(RadiusWire.AuthenticatorOffset, RadiusWire.AuthenticatorLength);
            return true;
        }

        authenticator = requestAuthenticator;
        return requestAuthenticator.Length == RadiusWire.AuthenticatorLength;
    }
}

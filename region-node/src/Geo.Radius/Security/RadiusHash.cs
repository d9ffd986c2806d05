using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;

namespace Geo.Radius.Security;

/// <summary>
/// The MD5 and HMAC-MD5 computations RADIUS defines, over stack buffers (a packet is at most 4096 octets).
/// MD5 is what the protocol mandates (RFC 2865, 2866, 2869, 5176); it is not a choice made here.
/// </summary>
[SuppressMessage("Security", "CA5351:Do Not Use Broken Cryptographic Algorithms", Justification = "RADIUS mandates MD5 and HMAC-MD5 (RFC 2865 §3, §5.2; RFC 2866 §3; RFC 2869 §5.14).")]
internal static class RadiusHash
{
    // Packet (≤ 4096) plus a shared secret of ordinary size fits on the stack; longer secrets use the pool.
    private const int StackLimit = RadiusWire.MaxPacketLength + 256;

    public const int DigestLength = 16;

    /// <summary>
    /// MD5(Code + Identifier + Length + <paramref name="authenticator"/> + Attributes + Secret): the Response
    /// Authenticator (RFC 2865 §3) and, with zeros, the Accounting/CoA/Disconnect Request Authenticator.
    /// <paramref name="destination"/> may overlap <paramref name="packet"/>.
    /// </summary>
    public static void PacketDigest(ReadOnlySpan<byte> packet, ReadOnlySpan<byte> authenticator, ReadOnlySpan<byte> secret, Span<byte> destination)
    {
        int total = packet.Length + secret.Length;
        byte[]? rented = null;
        Span<byte> buffer = total <= StackLimit
            ? stackalloc byte[total]
            : (rented = ArrayPool<byte>.Shared.Rent(total)).AsSpan(0, total);
        try
        {
            packet.CopyTo(buffer);
            authenticator.CopyTo(buffer.Slice(RadiusWire.AuthenticatorOffset, RadiusWire.AuthenticatorLength));
            secret.CopyTo(buffer[packet.Length..]);
            MD5.HashData(buffer, destination);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(buffer);
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    /// <summary>
    /// HMAC-MD5 keyed with the secret over the packet with <paramref name="authenticator"/> in the
    /// authenticator field and the Message-Authenticator value zeroed (RFC 3579 §3.2, RFC 5176 §3.3).
    /// <paramref name="destination"/> may overlap <paramref name="packet"/>.
    /// </summary>
    public static void MessageAuthenticator(
        ReadOnlySpan<byte> packet,
        ReadOnlySpan<byte> authenticator,
        int messageAuthenticatorValueOffset,
        ReadOnlySpan<byte> secret,
        Span<byte> destination)
    {
        Span<byte> buffer = stackalloc byte[packet.Length];
        packet.CopyTo(buffer);
        authenticator.CopyTo(buffer.Slice(RadiusWire.AuthenticatorOffset, RadiusWire.AuthenticatorLength));
        buffer.Slice(messageAuthenticatorValueOffset, RadiusWire.MessageAuthenticatorValueLength).Clear();
        HMACMD5.HashData(secret, buffer, destination);
    }

    /// <summary>MD5(<paramref name="first"/> + <paramref name="second"/> + <paramref name="third"/>).</summary>
    public static void Md5(ReadOnlySpan<byte> first, ReadOnlySpan<byte> second, ReadOnlySpan<byte> third, Span<byte> destination)
    {
        int total = first.Length + second.Length + third.Length;
        byte[]? rented = null;
        Span<byte> buffer = total <= StackLimit
            ? stackalloc byte[total]
            : (rented = ArrayPool<byte>.Shared.Rent(total)).AsSpan(0, total);
        try
        {
            first.CopyTo(buffer);
            second.CopyTo(buffer[first.Length..]);
            third.CopyTo(buffer[(first.Length + second.Length)..]);
            MD5.HashData(buffer, destination);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(buffer);
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }
}

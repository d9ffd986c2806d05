using System.Security.Cryptography;
using System.Text;

namespace Geo.Radius.Tests;

/// <summary>Helpers shared by the tests: hex vectors and reference digests computed independently of the codec.</summary>
internal static class TestData
{
    public static readonly byte[] RfcSecret = "xyzzy5461"u8.ToArray();

    /// <summary>Parses hex with any whitespace.</summary>
    public static byte[] Hex(string hex) => Convert.FromHexString(string.Concat(hex.Where(c => !char.IsWhiteSpace(c))));

    public static byte[] Concat(params byte[][] parts) => parts.SelectMany(p => p).ToArray();

    public static byte[] Ascii(string text) => Encoding.ASCII.GetBytes(text);

    /// <summary>Builds a packet by hand: header with the given authenticator, then raw attribute bytes.</summary>
    public static byte[] Packet(byte code, byte identifier, byte[] authenticator, byte[] attributes)
    {
        int length = 20 + attributes.Length;
        return Concat([code, identifier, (byte)(length >> 8), (byte)length], authenticator, attributes);
    }

    /// <summary>One attribute by hand: Type, Length, Value.</summary>
    public static byte[] Attribute(byte type, byte[] value) => Concat([type, (byte)(value.Length + 2)], value);

    public static byte[] UInt32Attribute(byte type, uint value) =>
        Attribute(type, [(byte)(value >> 24), (byte)(value >> 16), (byte)(value >> 8), (byte)value]);

    /// <summary>MD5(packet with <paramref name="authenticator"/> in the authenticator field, then the secret).</summary>
    public static byte[] ReferencePacketMd5(byte[] packet, byte[] authenticator, byte[] secret)
    {
        byte[] copy = (byte[])packet.Clone();
        Array.Copy(authenticator, 0, copy, 4, 16);
        return MD5.HashData(Concat(copy, secret));
    }

    /// <summary>HMAC-MD5 over the packet with <paramref name="authenticator"/> in the field and the 16 octets at
    /// <paramref name="messageAuthenticatorValueOffset"/> zeroed.</summary>
    public static byte[] ReferenceHmac(byte[] packet, byte[] authenticator, int messageAuthenticatorValueOffset, byte[] secret)
    {
        byte[] copy = (byte[])packet.Clone();
        Array.Copy(authenticator, 0, copy, 4, 16);
        Array.Clear(copy, messageAuthenticatorValueOffset, 16);
        return HMACMD5.HashData(secret, copy);
    }

    /// <summary>RFC 2865 §5.2 hiding, written out directly from the RFC's c(i) = p(i) xor MD5(S + c(i-1)).</summary>
    public static byte[] ReferenceHide(byte[] password, byte[] secret, byte[] requestAuthenticator)
    {
        int length = Math.Max(16, (password.Length + 15) / 16 * 16);
        byte[] padded = new byte[length];
        password.CopyTo(padded, 0);
        byte[] result = new byte[length];
        byte[] previous = requestAuthenticator;
        for (int block = 0; block < length / 16; block++)
        {
            byte[] b = MD5.HashData(Concat(secret, previous));
            for (int i = 0; i < 16; i++)
            {
                result[(block * 16) + i] = (byte)(padded[(block * 16) + i] ^ b[i]);
            }

            previous = result[(block * 16)..((block * 16) + 16)];
        }

        return result;
    }
}

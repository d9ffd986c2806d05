using System.Buffers.Binary;

namespace Geo.Radius;

/// <summary>The fixed layout of a RADIUS packet and the one structural validation every reader shares.</summary>
internal static class RadiusWire
{
    public const int HeaderLength = 20;
    public const int MaxPacketLength = 4096;
    public const int LengthOffset = 2;
    public const int AuthenticatorOffset = 4;
    public const int AuthenticatorLength = 16;
    public const int AttributeHeaderLength = 2;
    public const int MaxAttributeValueLength = 255 - AttributeHeaderLength;

    // Vendor-Specific value: Vendor-Id (4), then sub-attributes of Vendor type (1), Vendor length (1), value.
    public const int VendorIdLength = 4;
    public const int VendorHeaderLength = AttributeHeaderLength + VendorIdLength + AttributeHeaderLength;
    public const int MaxVendorValueLength = 255 - VendorHeaderLength;

    public const int MessageAuthenticatorValueLength = 16;

    /// <summary>Sixteen zero octets: the authenticator field while computing an MD5 or HMAC over a request.</summary>
    public static ReadOnlySpan<byte> ZeroAuthenticator => [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];

    /// <summary>
    /// Checks header, Length and attribute framing. On <see cref="RadiusReadStatus.Ok"/>, <paramref name="length"/>
    /// is the packet length from the Length field; octets past it are padding (RFC 2865 §3).
    /// </summary>
    public static RadiusReadStatus Validate(ReadOnlySpan<byte> datagram, out int length)
    {
        length = 0;
        if (datagram.Length < HeaderLength)
        {
            return RadiusReadStatus.TooShort;
        }

        int declared = BinaryPrimitives.ReadUInt16BigEndian(datagram[LengthOffset..]);
        if (declared < HeaderLength)
        {
            return RadiusReadStatus.TooShort;
        }

        if (declared > MaxPacketLength)
        {
            return RadiusReadStatus.TooLong;
        }

        if (declared > datagram.Length)
        {
            return RadiusReadStatus.LengthMismatch;
        }

        if (!((RadiusCode)datagram[0]).IsKnown())
        {
            return RadiusReadStatus.UnknownCode;
        }

        if (!AttributesAreFramed(datagram[HeaderLength..declared]))
        {
            return RadiusReadStatus.BadAttributeLength;
        }

        length = declared;
        return RadiusReadStatus.Ok;
    }

    /// <summary>Whether <paramref name="attributes"/> is an exact sequence of Type, Length (≥ 2), Value items.</summary>
    public static bool AttributesAreFramed(ReadOnlySpan<byte> attributes)
    {
        int offset = 0;
        while (offset < attributes.Length)
        {
            if (attributes.Length - offset < AttributeHeaderLength)
            {
                return false;
            }

            int attributeLength = attributes[offset + 1];
            if (attributeLength < AttributeHeaderLength || attributeLength > attributes.Length - offset)
            {
                return false;
            }

            offset += attributeLength;
        }

        return true;
    }

    /// <summary>
    /// Finds the single Message-Authenticator of a framed packet. Returns false when the attribute list is
    /// malformed, the attribute is not 18 octets, or there is more than one (RFC 3579 §3.2).
    /// </summary>
    public static bool TryFindMessageAuthenticator(ReadOnlySpan<byte> packet, out int valueOffset)
    {
        valueOffset = -1;
        int offset = HeaderLength;
        while (offset < packet.Length)
        {
            if (packet.Length - offset < AttributeHeaderLength)
            {
                return false;
            }

            int attributeLength = packet[offset + 1];
            if (attributeLength < AttributeHeaderLength || attributeLength > packet.Length - offset)
            {
                return false;
            }

            if (packet[offset] == Dictionary.RadiusAttributeType.MessageAuthenticator)
            {
                if (valueOffset >= 0 || attributeLength != AttributeHeaderLength + MessageAuthenticatorValueLength)
                {
                    return false;
                }

                valueOffset = offset + AttributeHeaderLength;
            }

            offset += attributeLength;
        }

        return true;
    }
}

using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Net;

namespace Geo.Radius;

/// <summary>
/// A well-formed RADIUS packet (RFC 2865 §3): a checked view over the packet's bytes, trimmed to its Length
/// field. It is a small struct that can be stored and awaited across; attribute access walks the bytes and
/// never allocates (only decoded strings and addresses do). <c>default</c> is an empty packet with no attributes.
/// </summary>
public readonly struct RadiusPacket : IEquatable<RadiusPacket>
{
    /// <summary>The length of the fixed header: Code, Identifier, Length, Authenticator.</summary>
    public const int HeaderLength = RadiusWire.HeaderLength;

    /// <summary>The largest packet RADIUS allows (RFC 2865 §3).</summary>
    public const int MaxLength = RadiusWire.MaxPacketLength;

    /// <summary>The length of the Authenticator field.</summary>
    public const int AuthenticatorLength = RadiusWire.AuthenticatorLength;

    /// <summary>The largest value one attribute can carry.</summary>
    public const int MaxAttributeValueLength = RadiusWire.MaxAttributeValueLength;

    private readonly ReadOnlyMemory<byte> _bytes;

    private RadiusPacket(ReadOnlyMemory<byte> bytes) => _bytes = bytes;

    /// <summary>The Code field, or 0 for an empty packet.</summary>
    public RadiusCode Code => IsEmpty ? 0 : (RadiusCode)_bytes.Span[0];

    /// <summary>The Identifier field, which matches a response to its request.</summary>
    public byte Identifier => IsEmpty ? (byte)0 : _bytes.Span[1];

    /// <summary>The packet length (the Length field); 0 for an empty packet.</summary>
    public int Length => _bytes.Length;

    /// <summary>True for <c>default</c>, the value a failed read leaves.</summary>
    public bool IsEmpty => _bytes.Length < RadiusWire.HeaderLength;

    /// <summary>The 16-octet Request or Response Authenticator field; empty for an empty packet.</summary>
    public ReadOnlySpan<byte> Authenticator =>
        IsEmpty ? default : _bytes.Span.Slice(RadiusWire.AuthenticatorOffset, RadiusWire.AuthenticatorLength);

    /// <summary>The packet's bytes, exactly <see cref="Length"/> long (padding removed).</summary>
    public ReadOnlyMemory<byte> Memory => _bytes;

    /// <summary>The packet's bytes as a span.</summary>
    public ReadOnlySpan<byte> Span => _bytes.Span;

    /// <summary>The attributes in wire order: <c>foreach (var attribute in packet.Attributes)</c>.</summary>
    public RadiusAttributeEnumerator Attributes => new(AttributeBytes);

    /// <summary>Every RFC 2865 §5.26 vendor sub-attribute of every Vendor-Specific attribute, in wire order.</summary>
    public VendorAttributeEnumerator VendorAttributes => new(AttributeBytes);

    private ReadOnlySpan<byte> AttributeBytes => IsEmpty ? default : _bytes.Span[RadiusWire.HeaderLength..];

    /// <summary>
    /// Reads a datagram and copies the packet (without padding) into a new array, so the result does not depend
    /// on <paramref name="datagram"/> afterwards. A <c>byte[]</c> argument binds to this overload. Never throws:
    /// a bad datagram gives a status other than Ok and <c>default</c>.
    /// </summary>
    public static RadiusReadStatus TryRead(ReadOnlySpan<byte> datagram, out RadiusPacket packet)
    {
        var status = RadiusWire.Validate(datagram, out int length);
        packet = status == RadiusReadStatus.Ok ? new RadiusPacket(datagram[..length].ToArray()) : default;
        return status;
    }

    /// <summary>
    /// Reads a datagram in place, without copying: the result is a view over <paramref name="datagram"/>, which
    /// must stay unchanged for as long as the packet is used (do not return a pooled buffer before then).
    /// Never throws: a bad datagram gives a status other than Ok and <c>default</c>.
    /// </summary>
    public static RadiusReadStatus TryRead(ReadOnlyMemory<byte> datagram, out RadiusPacket packet)
    {
        var status = RadiusWire.Validate(datagram.Span, out int length);
        packet = status == RadiusReadStatus.Ok ? new RadiusPacket(datagram[..length]) : default;
        return status;
    }

    /// <summary>Finds the first attribute of <paramref name="type"/>.</summary>
    public bool TryGetAttribute(byte type, out ReadOnlySpan<byte> value)
    {
        foreach (var attribute in Attributes)
        {
            if (attribute.Type == type)
            {
                value = attribute.Value;
                return true;
            }
        }

        value = default;
        return false;
    }

    /// <summary>Whether the packet carries at least one attribute of <paramref name="type"/>.</summary>
    public bool ContainsAttribute(byte type) => TryGetAttribute(type, out _);

    /// <summary>How many attributes of <paramref name="type"/> the packet carries.</summary>
    public int CountAttributes(byte type)
    {
        int count = 0;
        foreach (var attribute in Attributes)
        {
            if (attribute.Type == type)
            {
                count++;
            }
        }

        return count;
    }

    /// <summary>The first attribute of <paramref name="type"/> decoded as UTF-8 text.</summary>
    public bool TryGetString(byte type, [NotNullWhen(true)] out string? value)
    {
        if (TryGetAttribute(type, out var raw))
        {
            value = RadiusValue.GetString(raw);
            return true;
        }

        value = null;
        return false;
    }

    /// <summary>The first attribute of <paramref name="type"/> as a 32-bit integer; false if absent or not 4 octets.</summary>
    public bool TryGetUInt32(byte type, out uint value)
    {
        value = 0;
        return TryGetAttribute(type, out var raw) && RadiusValue.TryGetUInt32(raw, out value);
    }

    /// <summary>The first attribute of <paramref name="type"/> as an IPv4 address; false if absent or not 4 octets.</summary>
    public bool TryGetIPv4Address(byte type, [NotNullWhen(true)] out IPAddress? address)
    {
        address = null;
        return TryGetAttribute(type, out var raw) && RadiusValue.TryGetIPv4Address(raw, out address);
    }

    /// <summary>The first attribute of <paramref name="type"/> as a RADIUS time; false if absent or not 4 octets.</summary>
    public bool TryGetTime(byte type, out DateTimeOffset time)
    {
        time = default;
        return TryGetAttribute(type, out var raw) && RadiusValue.TryGetTime(raw, out time);
    }

    /// <summary>
    /// The first attribute of <paramref name="type"/> as a slice of <see cref="Memory"/> (no copy), which can be
    /// stored with the packet.
    /// </summary>
    public bool TryGetOctets(byte type, out ReadOnlyMemory<byte> value)
    {
        int offset = RadiusWire.HeaderLength;
        foreach (var attribute in Attributes)
        {
            if (attribute.Type == type)
            {
                value = _bytes.Slice(offset + RadiusWire.AttributeHeaderLength, attribute.Value.Length);
                return true;
            }

            offset += RadiusWire.AttributeHeaderLength + attribute.Value.Length;
        }

        value = default;
        return false;
    }

    /// <summary>Finds the first RFC 2865 §5.26 vendor sub-attribute of <paramref name="vendorId"/> and <paramref name="vendorType"/>.</summary>
    public bool TryGetVendorAttribute(uint vendorId, byte vendorType, out ReadOnlySpan<byte> value)
    {
        foreach (var attribute in VendorAttributes)
        {
            if (attribute.VendorId == vendorId && attribute.VendorType == vendorType)
            {
                value = attribute.Value;
                return true;
            }
        }

        value = default;
        return false;
    }

    /// <summary>The first vendor sub-attribute of <paramref name="vendorId"/> and <paramref name="vendorType"/> as UTF-8 text.</summary>
    public bool TryGetVendorString(uint vendorId, byte vendorType, [NotNullWhen(true)] out string? value)
    {
        if (TryGetVendorAttribute(vendorId, vendorType, out var raw))
        {
            value = RadiusValue.GetString(raw);
            return true;
        }

        value = null;
        return false;
    }

    /// <summary>The first vendor sub-attribute of <paramref name="vendorId"/> and <paramref name="vendorType"/> as a 32-bit integer.</summary>
    public bool TryGetVendorUInt32(uint vendorId, byte vendorType, out uint value)
    {
        value = 0;
        return TryGetVendorAttribute(vendorId, vendorType, out var raw) && RadiusValue.TryGetUInt32(raw, out value);
    }

    /// <summary>
    /// The total length of all attributes of <paramref name="type"/> joined in order: the size of an EAP-Message
    /// split over several attributes (RFC 3579 §3.1).
    /// </summary>
    public int GetConcatenatedLength(byte type)
    {
        int length = 0;
        foreach (var attribute in Attributes)
        {
            if (attribute.Type == type)
            {
                length += attribute.Value.Length;
            }
        }

        return length;
    }

    /// <summary>
    /// Copies the values of all attributes of <paramref name="type"/>, joined in order, into
    /// <paramref name="destination"/> (an EAP-Message is carried opaque this way). False if it is too small.
    /// </summary>
    public bool TryCopyConcatenated(byte type, Span<byte> destination, out int written)
    {
        written = 0;
        foreach (var attribute in Attributes)
        {
            if (attribute.Type != type)
            {
                continue;
            }

            if (!attribute.Value.TryCopyTo(destination[written..]))
            {
                written = 0;
                return false;
            }

            written += attribute.Value.Length;
        }

        return true;
    }

    /// <summary>The Request Authenticator as a number, for keys and logs; 0 for an empty packet.</summary>
    internal UInt128 AuthenticatorValue => IsEmpty ? UInt128.Zero : BinaryPrimitives.ReadUInt128BigEndian(Authenticator);

    /// <summary>Two packets are equal when their bytes are equal.</summary>
    public bool Equals(RadiusPacket other) => _bytes.Span.SequenceEqual(other._bytes.Span);

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is RadiusPacket other && Equals(other);

    /// <inheritdoc />
    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.AddBytes(_bytes.Span);
        return hash.ToHashCode();
    }

    /// <summary>Whether two packets have the same bytes.</summary>
    public static bool operator ==(RadiusPacket left, RadiusPacket right) => left.Equals(right);

    /// <summary>Whether two packets have different bytes.</summary>
    public static bool operator !=(RadiusPacket left, RadiusPacket right) => !left.Equals(right);
}

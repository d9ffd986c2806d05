using System.Diagnostics.CodeAnalysis;
using System.Net;

namespace Geo.Radius;

/// <summary>
/// One attribute of a packet: its Type and a view of its Value inside the packet's bytes (no copy).
/// </summary>
[SuppressMessage("Naming", "CA1711:Identifiers should not have incorrect suffix", Justification = "\"Attribute\" is the RADIUS protocol term (RFC 2865 §5); this is not a System.Attribute.")]
public readonly ref struct RadiusAttribute
{
    internal RadiusAttribute(byte type, ReadOnlySpan<byte> value)
    {
        Type = type;
        Value = value;
    }

    /// <summary>The attribute Type (see <see cref="Dictionary.RadiusAttributeType"/>).</summary>
    public byte Type { get; }

    /// <summary>The attribute Value: the octets after Type and Length.</summary>
    public ReadOnlySpan<byte> Value { get; }

    /// <summary>The Value decoded as UTF-8 text.</summary>
    public string GetString() => RadiusValue.GetString(Value);

    /// <summary>The Value as a 32-bit big-endian integer; false unless it is exactly 4 octets.</summary>
    public bool TryGetUInt32(out uint value) => RadiusValue.TryGetUInt32(Value, out value);

    /// <summary>The Value as an IPv4 address; false unless it is exactly 4 octets.</summary>
    public bool TryGetIPv4Address([NotNullWhen(true)] out IPAddress? address) => RadiusValue.TryGetIPv4Address(Value, out address);

    /// <summary>The Value as a RADIUS time (seconds since 1970-01-01 UTC); false unless it is exactly 4 octets.</summary>
    public bool TryGetTime(out DateTimeOffset time) => RadiusValue.TryGetTime(Value, out time);
}

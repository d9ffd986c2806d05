using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Net;

namespace Geo.Radius;

/// <summary>
/// One sub-attribute of a Vendor-Specific attribute in the format RFC 2865 §5.26 recommends:
/// Vendor-Id, then Vendor type, Vendor length and value. The value is a view into the packet (no copy).
/// </summary>
[SuppressMessage("Naming", "CA1711:Identifiers should not have incorrect suffix", Justification = "\"Attribute\" is the RADIUS protocol term (RFC 2865 §5.26); this is not a System.Attribute.")]
public readonly ref struct VendorAttribute
{
    internal VendorAttribute(uint vendorId, byte vendorType, ReadOnlySpan<byte> value)
    {
        VendorId = vendorId;
        VendorType = vendorType;
        Value = value;
    }

    /// <summary>The SMI Network Management Private Enterprise Code (see <see cref="Dictionary.RadiusVendorId"/>).</summary>
    public uint VendorId { get; }

    /// <summary>The vendor's attribute number.</summary>
    public byte VendorType { get; }

    /// <summary>The sub-attribute value.</summary>
    public ReadOnlySpan<byte> Value { get; }

    /// <summary>The Value decoded as UTF-8 text.</summary>
    public string GetString() => RadiusValue.GetString(Value);

    /// <summary>The Value as a 32-bit big-endian integer; false unless it is exactly 4 octets.</summary>
    public bool TryGetUInt32(out uint value) => RadiusValue.TryGetUInt32(Value, out value);

    /// <summary>The Value as an IPv4 address; false unless it is exactly 4 octets.</summary>
    public bool TryGetIPv4Address([NotNullWhen(true)] out IPAddress? address) => RadiusValue.TryGetIPv4Address(Value, out address);

    /// <summary>
    /// Splits a Vendor-Specific attribute value into its Vendor-Id and sub-attribute list. False when the value
    /// does not follow the RFC 2865 §5.26 sub-attribute format (some vendors use another one; such VSAs are
    /// still readable as raw attributes).
    /// </summary>
    internal static bool TryParse(ReadOnlySpan<byte> vendorSpecificValue, out uint vendorId, out ReadOnlySpan<byte> subAttributes)
    {
        if (vendorSpecificValue.Length < RadiusWire.VendorIdLength + RadiusWire.AttributeHeaderLength)
        {
            vendorId = 0;
            subAttributes = default;
            return false;
        }

        vendorId = BinaryPrimitives.ReadUInt32BigEndian(vendorSpecificValue);
        subAttributes = vendorSpecificValue[RadiusWire.VendorIdLength..];
        if (!RadiusWire.AttributesAreFramed(subAttributes))
        {
            subAttributes = default;
            return false;
        }

        return true;
    }
}

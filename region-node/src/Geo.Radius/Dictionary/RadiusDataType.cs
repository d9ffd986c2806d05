namespace Geo.Radius.Dictionary;

/// <summary>The data type of an attribute value (RFC 2865 §5, RFC 8044).</summary>
public enum RadiusDataType
{
    /// <summary>Binary octets (RFC 8044 "string"), shown as hex.</summary>
    Octets = 0,

    /// <summary>UTF-8 text.</summary>
    Text,

    /// <summary>A 32-bit unsigned integer, most significant octet first; may have named values.</summary>
    Integer32,

    /// <summary>Seconds since 1970-01-01 00:00:00 UTC, 32-bit unsigned.</summary>
    Time,

    /// <summary>A 4-octet IPv4 address.</summary>
    IPv4Address,

    /// <summary>A 16-octet IPv6 address.</summary>
    IPv6Address,

    /// <summary>An IPv6 prefix: reserved octet, prefix length, prefix (RFC 3162 §2.3).</summary>
    IPv6Prefix,

    /// <summary>An 8-octet IPv6 interface identifier.</summary>
    InterfaceId,

    /// <summary>Vendor-Specific: Vendor-Id, then vendor sub-attributes (RFC 2865 §5.26).</summary>
    VendorSpecific,
}

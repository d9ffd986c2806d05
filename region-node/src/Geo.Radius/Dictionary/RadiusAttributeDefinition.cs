namespace Geo.Radius.Dictionary;

/// <summary>A named attribute: a standard one (<see cref="VendorId"/> 0) or a vendor sub-attribute.</summary>
/// <param name="Name">The conventional (FreeRADIUS) name, e.g. <c>"Acct-Input-Octets"</c>, <c>"Mikrotik-Rate-Limit"</c>.</param>
/// <param name="VendorId">0 for a standard attribute, otherwise the vendor's Private Enterprise Code.</param>
/// <param name="Type">The attribute Type, or the vendor type for a vendor attribute.</param>
/// <param name="DataType">How the value is encoded.</param>
public readonly record struct RadiusAttributeDefinition(string Name, uint VendorId, byte Type, RadiusDataType DataType)
{
    /// <summary>Whether this is a vendor sub-attribute carried in Vendor-Specific.</summary>
    public bool IsVendorSpecific => VendorId != 0;
}

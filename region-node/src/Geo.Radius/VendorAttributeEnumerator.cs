using Geo.Radius.Dictionary;

namespace Geo.Radius;

/// <summary>
/// Walks every vendor sub-attribute of every Vendor-Specific attribute of a packet, in wire order, without
/// allocating. Vendor-Specific attributes whose value is not in the RFC 2865 §5.26 format are skipped whole.
/// </summary>
public ref struct VendorAttributeEnumerator
{
    private RadiusAttributeEnumerator _attributes;
    private ReadOnlySpan<byte> _subAttributes;
    private uint _vendorId;
    private int _next;
    private VendorAttribute _current;

    internal VendorAttributeEnumerator(ReadOnlySpan<byte> attributes)
    {
        _attributes = new RadiusAttributeEnumerator(attributes);
        _subAttributes = default;
        _vendorId = 0;
        _next = 0;
        _current = default;
    }

    /// <summary>The vendor sub-attribute at the current position.</summary>
    public readonly VendorAttribute Current => _current;

    /// <summary>Returns this enumerator, so that it can be used in <c>foreach</c>.</summary>
    public readonly VendorAttributeEnumerator GetEnumerator() => this;

    /// <summary>Moves to the next vendor sub-attribute; false at the end.</summary>
    public bool MoveNext()
    {
        while (true)
        {
            // The sub-attribute list was checked whole in VendorAttribute.TryParse, so each item fits.
            if (_next <= _subAttributes.Length - RadiusWire.AttributeHeaderLength)
            {
                int length = _subAttributes[_next + 1];
                _current = new VendorAttribute(
                    _vendorId,
                    _subAttributes[_next],
                    _subAttributes.Slice(_next + RadiusWire.AttributeHeaderLength, length - RadiusWire.AttributeHeaderLength));
                _next += length;
                return true;
            }

            if (!_attributes.MoveNext())
            {
                return false;
            }

            var attribute = _attributes.Current;
            _next = 0;
            if (attribute.Type != RadiusAttributeType.VendorSpecific
                || !VendorAttribute.TryParse(attribute.Value, out _vendorId, out _subAttributes))
            {
                _subAttributes = default;
            }
        }
    }
}

namespace Geo.Radius;

/// <summary>
/// Walks the attributes of a packet in wire order without allocating. Use it with <c>foreach</c>:
/// <c>foreach (var attribute in packet.Attributes) { ... }</c>.
/// </summary>
public ref struct RadiusAttributeEnumerator
{
    private readonly ReadOnlySpan<byte> _attributes;
    private int _next;
    private RadiusAttribute _current;

    internal RadiusAttributeEnumerator(ReadOnlySpan<byte> attributes)
    {
        _attributes = attributes;
        _next = 0;
        _current = default;
    }

    /// <summary>The attribute at the current position.</summary>
    public readonly RadiusAttribute Current => _current;

    /// <summary>Returns this enumerator, so that it can be used in <c>foreach</c>.</summary>
    public readonly RadiusAttributeEnumerator GetEnumerator() => this;

    /// <summary>Moves to the next attribute; false at the end (or at a framing error, which a read packet never has).</summary>
    public bool MoveNext()
    {
        if (_next > _attributes.Length - RadiusWire.AttributeHeaderLength)
        {
            return false;
        }

        int length = _attributes[_next + 1];
        if (length < RadiusWire.AttributeHeaderLength || length > _attributes.Length - _next)
        {
            _next = _attributes.Length;
            return false;
        }

        _current = new RadiusAttribute(
            _attributes[_next],
            _attributes.Slice(_next + RadiusWire.AttributeHeaderLength, length - RadiusWire.AttributeHeaderLength));
        _next += length;
        return true;
    }
}

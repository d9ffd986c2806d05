namespace Geo.Radius;

/// <summary>
/// The outcome of <see cref="RadiusPacket.TryRead(ReadOnlySpan{byte}, out RadiusPacket)"/>. The checks run in the
/// order of the members below, and the first that fails is reported.
/// </summary>
public enum RadiusReadStatus
{
    /// <summary>The packet is well formed.</summary>
    Ok = 0,

    /// <summary>The datagram is shorter than the 20-octet header, or its Length field is below 20.</summary>
    TooShort,

    /// <summary>The Length field is above the 4096-octet maximum (RFC 2865 §3).</summary>
    TooLong,

    /// <summary>The Length field is larger than the datagram (RFC 2865 §3: the packet must be discarded).</summary>
    LengthMismatch,

    /// <summary>The Code field is not one this codec knows (see <see cref="RadiusCode"/>).</summary>
    UnknownCode,

    /// <summary>An attribute has a Length below 2 or runs past the end of the packet.</summary>
    BadAttributeLength,
}

using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Net;
using System.Text;

namespace Geo.Radius;

/// <summary>
/// Decodes attribute values by RADIUS data type (RFC 2865 §5, RFC 8044): text, integer, IPv4 address, time,
/// octets. Every method returns false (or an empty result) on a value of the wrong size; none throws.
/// </summary>
public static class RadiusValue
{
    /// <summary>Decodes a text value as UTF-8; invalid sequences become U+FFFD.</summary>
    public static string GetString(ReadOnlySpan<byte> value) => Encoding.UTF8.GetString(value);

    /// <summary>Reads a 32-bit unsigned integer, most significant octet first.</summary>
    public static bool TryGetUInt32(ReadOnlySpan<byte> value, out uint result)
    {
        if (value.Length != sizeof(uint))
        {
            result = 0;
            return false;
        }

        result = BinaryPrimitives.ReadUInt32BigEndian(value);
        return true;
    }

    /// <summary>Reads a 4-octet IPv4 address.</summary>
    public static bool TryGetIPv4Address(ReadOnlySpan<byte> value, [NotNullWhen(true)] out IPAddress? address)
    {
        if (value.Length != 4)
        {
            address = null;
            return false;
        }

        address = new IPAddress(value);
        return true;
    }

    /// <summary>Reads a RADIUS time: seconds since 1970-01-01 00:00:00 UTC as an unsigned 32-bit integer.</summary>
    public static bool TryGetTime(ReadOnlySpan<byte> value, out DateTimeOffset time)
    {
        if (!TryGetUInt32(value, out uint seconds))
        {
            time = default;
            return false;
        }

        time = DateTimeOffset.FromUnixTimeSeconds(seconds);
        return true;
    }

    /// <summary>Copies an octets value into a new array.</summary>
    public static byte[] GetOctets(ReadOnlySpan<byte> value) => value.ToArray();
}

using System.Net;

namespace Geo.Radius;

/// <summary>
/// Identifies one request for duplicate detection (RFC 5080 §2.2.2): a retransmission from the same NAS address
/// and source port has the same Code, Identifier and Request Authenticator, while a new request with a reused
/// Identifier has a new authenticator. The codec provides the key; the cache belongs to the server.
/// </summary>
/// <param name="NasAddress">The source address of the datagram (normalize IPv4-mapped IPv6 addresses first).</param>
/// <param name="SourcePort">The source UDP port of the datagram.</param>
/// <param name="Code">The request's Code.</param>
/// <param name="Identifier">The request's Identifier.</param>
/// <param name="RequestAuthenticator">The 16-octet Request Authenticator, as a big-endian number.</param>
public readonly record struct RadiusRequestKey(
    IPAddress NasAddress,
    int SourcePort,
    RadiusCode Code,
    byte Identifier,
    UInt128 RequestAuthenticator)
{
    /// <summary>The key of <paramref name="request"/> received from <paramref name="source"/>.</summary>
    public static RadiusRequestKey Create(IPEndPoint source, RadiusPacket request)
    {
        ArgumentNullException.ThrowIfNull(source);
        return Create(source.Address, source.Port, request);
    }

    /// <summary>The key of <paramref name="request"/> received from <paramref name="nasAddress"/>:<paramref name="sourcePort"/>.</summary>
    public static RadiusRequestKey Create(IPAddress nasAddress, int sourcePort, RadiusPacket request)
    {
        ArgumentNullException.ThrowIfNull(nasAddress);
        return new RadiusRequestKey(nasAddress, sourcePort, request.Code, request.Identifier, request.AuthenticatorValue);
    }
}

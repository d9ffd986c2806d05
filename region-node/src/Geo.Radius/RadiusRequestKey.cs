using System.Net;

namespace Geo.Radius;

/// <summary>
/// Duplicate-detection key (RFC 5080 §2.2.2): a retransmission repeats Code, Identifier and Request Authenticator
/// from the same address and port; a reused Identifier comes with a new authenticator.
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

using System.Buffers.Binary;
using System.Text;

namespace Geo.RegionNode.Caching;

/// <summary>
/// What authentication needs of a subscriber. The password stays sealed, in Redis too: it is opened in
/// the node's memory only for the request being checked.
/// </summary>
internal sealed record AuthProfile(
    Guid Id,
    string PlanId,
    bool Suspended,
    DateTimeOffset? ValidUntil,
    byte[] SealedPassword,
    System.Net.IPAddress? FramedIp = null,
    long BalanceMicros = 0,
    bool QuotaExhausted = false)
{
    private const byte Format = 3;
    private const int HeaderLength = 40;

    /// <summary>A compact binary form for the cache: format, flags, id, valid-until, framed IPv4, plan id length, balance, plan id, sealed password.</summary>
    public byte[] Serialize()
    {
        var plan = Encoding.UTF8.GetBytes(PlanId);
        var bytes = new byte[HeaderLength + plan.Length + SealedPassword.Length];
        bytes[0] = Format;
        var framed = FramedIp is { AddressFamily: System.Net.Sockets.AddressFamily.InterNetwork } ip ? ip : null;
        bytes[1] = (byte)((Suspended ? 1 : 0) | (ValidUntil.HasValue ? 2 : 0) | (framed is not null ? 4 : 0) | (QuotaExhausted ? 8 : 0));
        Id.TryWriteBytes(bytes.AsSpan(2, 16));
        BinaryPrimitives.WriteInt64BigEndian(bytes.AsSpan(18, 8), ValidUntil?.ToUnixTimeMilliseconds() ?? 0);
        framed?.TryWriteBytes(bytes.AsSpan(26, 4), out _);
        BinaryPrimitives.WriteInt64BigEndian(bytes.AsSpan(32, 8), BalanceMicros);
        BinaryPrimitives.WriteUInt16BigEndian(bytes.AsSpan(30, 2), (ushort)plan.Length);
        plan.CopyTo(bytes.AsSpan(HeaderLength));
        SealedPassword.CopyTo(bytes.AsSpan(HeaderLength + plan.Length));
        return bytes;
    }

    /// <summary>Reads the cached form; null for anything malformed (a cache is never trusted to be well-formed).</summary>
    public static AuthProfile? Deserialize(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length < HeaderLength || bytes[0] != Format)
        {
            return null;
        }

        var planLength = BinaryPrimitives.ReadUInt16BigEndian(bytes.Slice(30, 2));
        if (bytes.Length < HeaderLength + planLength)
        {
            return null;
        }

        var flags = bytes[1];
        var validUntil = (flags & 2) != 0 ? DateTimeOffset.FromUnixTimeMilliseconds(BinaryPrimitives.ReadInt64BigEndian(bytes.Slice(18, 8))) : (DateTimeOffset?)null;
        var framed = (flags & 4) != 0 ? new System.Net.IPAddress(bytes.Slice(26, 4)) : null;
        return new AuthProfile(new Guid(bytes.Slice(2, 16)), string.Intern(Encoding.UTF8.GetString(bytes.Slice(HeaderLength, planLength))), (flags & 1) != 0, validUntil,
            bytes[(HeaderLength + planLength)..].ToArray(), framed, BinaryPrimitives.ReadInt64BigEndian(bytes.Slice(32, 8)), (flags & 8) != 0);
    }
}

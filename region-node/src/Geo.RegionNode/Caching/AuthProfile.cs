using System.Buffers.Binary;
using System.Text;

namespace Geo.RegionNode.Caching;

/// <summary>
/// What authentication needs of a subscriber. The password stays sealed, in Redis too: it is opened in
/// the node's memory only for the request being checked.
/// </summary>
internal sealed record AuthProfile(Guid Id, string PlanId, bool Suspended, DateTimeOffset? ValidUntil, byte[] SealedPassword)
{
    private const byte Format = 1;

    /// <summary>A compact binary form for the cache: format, flags, id, valid-until, plan id, sealed password.</summary>
    public byte[] Serialize()
    {
        var plan = Encoding.UTF8.GetBytes(PlanId);
        var bytes = new byte[1 + 1 + 16 + 8 + 2 + plan.Length + SealedPassword.Length];
        bytes[0] = Format;
        bytes[1] = (byte)((Suspended ? 1 : 0) | (ValidUntil.HasValue ? 2 : 0));
        Id.TryWriteBytes(bytes.AsSpan(2, 16));
        BinaryPrimitives.WriteInt64BigEndian(bytes.AsSpan(18, 8), ValidUntil?.ToUnixTimeMilliseconds() ?? 0);
        BinaryPrimitives.WriteUInt16BigEndian(bytes.AsSpan(26, 2), (ushort)plan.Length);
        plan.CopyTo(bytes.AsSpan(28));
        SealedPassword.CopyTo(bytes.AsSpan(28 + plan.Length));
        return bytes;
    }

    /// <summary>Reads the cached form; null for anything malformed (a cache is never trusted to be well-formed).</summary>
    public static AuthProfile? Deserialize(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length < 28 || bytes[0] != Format)
        {
            return null;
        }

        var planLength = BinaryPrimitives.ReadUInt16BigEndian(bytes.Slice(26, 2));
        if (bytes.Length < 28 + planLength)
        {
            return null;
        }

        var flags = bytes[1];
        var validUntil = (flags & 2) != 0 ? DateTimeOffset.FromUnixTimeMilliseconds(BinaryPrimitives.ReadInt64BigEndian(bytes.Slice(18, 8))) : (DateTimeOffset?)null;
        return new AuthProfile(new Guid(bytes.Slice(2, 16)), Encoding.UTF8.GetString(bytes.Slice(28, planLength)), (flags & 1) != 0, validUntil,
            bytes[(28 + planLength)..].ToArray());
    }
}

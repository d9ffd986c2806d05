using System.Buffers.Text;
using System.Text;

namespace Geo.Router.Listing;

/// <summary>
/// The cursor of a merged tenant-wide listing: the last username returned, as <c>base64url("1:" + username)</c>.
/// Every shard lists its subscribers in UTF-8 byte order of the username (PostgreSQL <c>COLLATE "C"</c>), and a
/// username is unique within a tenant across shards, so "after this username" is a position in every shard at once.
/// Opaque to clients; the version prefix lets the format change.
/// </summary>
internal static class ListingCursor
{
    private const string Version = "1:";

    public static string Encode(string lastUsername) => Base64Url.EncodeToString(Encoding.UTF8.GetBytes(Version + lastUsername));

    public static bool TryDecode(string? cursor, out string? after)
    {
        after = null;
        if (string.IsNullOrEmpty(cursor))
        {
            return true;
        }

        try
        {
            var text = Encoding.UTF8.GetString(Base64Url.DecodeFromChars(cursor));
            if (!text.StartsWith(Version, StringComparison.Ordinal) || text.Length == Version.Length)
            {
                return false;
            }

            after = text[Version.Length..];
            return true;
        }
        catch (FormatException)
        {
            return false;
        }
    }

    /// <summary>Orders usernames as the shards do: by their UTF-8 bytes.</summary>
    public static int Compare(string x, string y) =>
        Encoding.UTF8.GetBytes(x).AsSpan().SequenceCompareTo(Encoding.UTF8.GetBytes(y));
}

using System.Buffers.Text;
using System.Text;
using Geo.Router.Access;

namespace Geo.Router.Listing;

/// <summary>
/// Cursor of a merged tenant-wide listing: <c>base64url("1:" + username)</c>. Shards list in UTF-8 byte order
/// (<c>COLLATE "C"</c>) and usernames are unique per tenant, so "after this username" is a position in every shard.
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
            if (!text.StartsWith(Version, StringComparison.Ordinal) || !Usernames.IsValid(text[Version.Length..]))
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

using System.Text;

namespace Geo.Router.Access;

/// <summary>
/// What a username may be, as the region nodes and the directory store it: 1 to 253 characters, no control
/// characters, well-formed Unicode. Checked before a username reaches the directory, whose database refuses the rest
/// with an error rather than an answer.
/// </summary>
internal static class Usernames
{
    public const int MaxLength = 253;

    public const string Rule = "a username is 1 to 253 characters of well-formed Unicode without control characters";

    public static bool IsValid(string username)
    {
        if (username.Length is 0 or > MaxLength)
        {
            return false;
        }

        for (var i = 0; i < username.Length;)
        {
            if (Rune.DecodeFromUtf16(username.AsSpan(i), out var rune, out var consumed) != System.Buffers.OperationStatus.Done || Rune.IsControl(rune))
            {
                return false;
            }

            i += consumed;
        }

        return true;
    }
}

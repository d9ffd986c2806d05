namespace Geo.Engines;

/// <summary>POSIX shell quoting for the scripts handed to a <see cref="Reaper"/>.</summary>
public static class Shell
{
    /// <summary>Quotes a word for sh so that it stays one argument, whatever it holds.</summary>
    public static string Quote(string word)
    {
        ArgumentNullException.ThrowIfNull(word);
        return word.Length > 0 && word.All(c => char.IsAsciiLetterOrDigit(c) || c is '/' or '.' or '_' or '-' or ':' or '=')
            ? word
            : "'" + word.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
    }
}

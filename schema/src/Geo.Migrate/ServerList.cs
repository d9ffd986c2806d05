using System.Globalization;
using Npgsql;

namespace Geo.Migrate;

/// <summary>
/// Region servers given as <c>region=connection string</c>: the first '=' ends the region id (region ids cannot hold
/// one), so connection strings keep their own '=' and ';'. A file holds one per line; blank lines and lines starting
/// with '#' are ignored.
/// </summary>
internal static class ServerList
{
    /// <summary>Adds the entries to <paramref name="servers"/>; each entry's source names where it came from in errors.</summary>
    public static void Add(Dictionary<string, string> servers, IEnumerable<(string Text, string Source)> entries)
    {
        foreach (var (text, source) in entries)
        {
            var separator = text.IndexOf('=', StringComparison.Ordinal);
            var region = separator < 0 ? "" : text[..separator].Trim();
            var connection = separator < 0 ? "" : text[(separator + 1)..].Trim();
            if (region.Length == 0 || connection.Length == 0)
            {
                throw new FormatException($"{source}: expected <region>=<connection string>, e.g. a=Host=pg-a;Username=geo_admin");
            }

            try
            {
                _ = new NpgsqlConnectionStringBuilder(connection);
            }
            catch (ArgumentException ex)
            {
                throw new FormatException($"{source}: {ex.Message}", ex);
            }

            if (!servers.TryAdd(region, connection))
            {
                throw new FormatException($"{source}: region '{region}' is given twice");
            }
        }
    }

    /// <summary>The entries of a servers file, each with its file name and line number.</summary>
    public static IEnumerable<(string Text, string Source)> ReadFile(string path)
    {
        var lines = File.ReadAllLines(path);
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i].Trim();
            if (line.Length > 0 && !line.StartsWith('#'))
            {
                yield return (line, $"{path} line {(i + 1).ToString(CultureInfo.InvariantCulture)}");
            }
        }
    }
}

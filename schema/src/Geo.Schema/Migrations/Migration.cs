using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace Geo.Schema.Migrations;

/// <summary>One versioned SQL file: <c>NNNN_name.sql</c>, applied once, in its own transaction, never edited after.</summary>
public sealed partial record Migration
{
    private Migration(int version, string fileName, string sql)
    {
        Version = version;
        FileName = fileName;
        Sql = sql;
        // Line endings are normalized so a checkout with CRLF does not look like an edit.
        Checksum = SHA256.HashData(Encoding.UTF8.GetBytes(sql.ReplaceLineEndings("\n")));
    }

    /// <summary>The number that orders migrations; unique within a set.</summary>
    public int Version { get; }

    /// <summary>The file name, e.g. <c>0001_tenant.sql</c>: what messages name.</summary>
    public string FileName { get; }

    /// <summary>The SQL text.</summary>
    public string Sql { get; }

    /// <summary>SHA-256 of the SQL text with normalized line endings.</summary>
    public byte[] Checksum { get; }

    /// <summary>Creates a migration from a file name of the form <c>NNNN_name.sql</c> and its text.</summary>
    public static Migration Create(string fileName, string sql)
    {
        ArgumentNullException.ThrowIfNull(fileName);
        ArgumentNullException.ThrowIfNull(sql);
        var match = FileNamePattern().Match(fileName);
        if (!match.Success)
        {
            throw new MigrationException($"migration file name '{fileName}' does not match NNNN_name.sql (lower-case name, digits and '_')");
        }

        return new Migration(int.Parse(match.Groups[1].ValueSpan, NumberStyles.None, CultureInfo.InvariantCulture), fileName, sql);
    }

    [GeneratedRegex(@"^(\d{4})_[a-z0-9_]+\.sql$", RegexOptions.CultureInvariant)]
    private static partial Regex FileNamePattern();
}

using Npgsql;

namespace Geo.Replication.PgOutput;

/// <summary>A table's schema-qualified name.</summary>
internal readonly record struct TableName(string Schema, string Name)
{
    /// <summary>The name quoted as an SQL identifier: <c>"schema"."table"</c>.</summary>
    public string Quoted => $"{SqlIdentifier.Quote(Schema)}.{SqlIdentifier.Quote(Name)}";

    public override string ToString() => $"{Schema}.{Name}";
}

/// <summary>Which tables of a tenant database are replicated: every table of <c>public</c> but the local bookkeeping ones.</summary>
internal static class ReplicatedTables
{
    /// <summary>Local to each database: where its applier stands, and which migrations it ran.</summary>
    public static readonly string[] NeverReplicated = ["replication_progress", "geo_schema_migrations"];

    public static async Task<List<TableName>> ListAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, CancellationToken cancellationToken)
    {
        const string Sql = """
            SELECT n.nspname, c.relname
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND n.nspname = 'public' AND c.relname <> ALL (@excluded)
            ORDER BY n.nspname, c.relname
            """;
        await using var command = new NpgsqlCommand(Sql, connection, transaction);
        command.Parameters.AddWithValue("excluded", NeverReplicated);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var tables = new List<TableName>();
        while (await reader.ReadAsync(cancellationToken))
        {
            tables.Add(new TableName(reader.GetString(0), reader.GetString(1)));
        }

        return tables;
    }
}

/// <summary>SQL identifiers that cannot be parameters (table, publication and slot names).</summary>
internal static class SqlIdentifier
{
    public static string Quote(string identifier) => "\"" + identifier.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    /// <summary>Slot and publication names we create: lower-case letters, digits and '_', at most 63 characters.</summary>
    public static bool IsSimpleName(string name) =>
        name.Length is > 0 and <= 63 && (char.IsAsciiLetterLower(name[0]) || name[0] == '_') &&
        name.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '_');

    public static string RequireSimpleName(string name, string what) =>
        IsSimpleName(name) ? name : throw new ArgumentException($"{what} '{name}' must be lower-case letters, digits and '_' (at most 63 characters)", what);
}

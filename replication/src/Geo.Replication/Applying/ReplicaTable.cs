using Npgsql;

namespace Geo.Replication.Applying;

/// <summary>A replica table's columns (name and SQL type) and primary key, read from the replica's catalog.</summary>
internal sealed class ReplicaTable
{
    private readonly Dictionary<string, int> _byName;

    private ReplicaTable(string schema, string name, List<(string Name, string Type)> columns, List<string> primaryKey)
    {
        Schema = schema;
        Name = name;
        Columns = columns;
        PrimaryKey = primaryKey;
        _byName = columns.Select((c, i) => (c.Name, i)).ToDictionary(c => c.Name, c => c.i, StringComparer.Ordinal);
    }

    public string Schema { get; }

    public string Name { get; }

    public List<(string Name, string Type)> Columns { get; }

    public List<string> PrimaryKey { get; }

    public string Quoted => $"{PgOutput.SqlIdentifier.Quote(Schema)}.{PgOutput.SqlIdentifier.Quote(Name)}";

    public int IndexOf(string column) => _byName.TryGetValue(column, out var index) ? index : -1;

    /// <summary>A table shape given directly (tests, and callers that already know it).</summary>
    public static ReplicaTable Create(string schema, string name, IEnumerable<(string Name, string Type)> columns, IEnumerable<string> primaryKey) =>
        new(schema, name, [.. columns], [.. primaryKey]);

    public static async Task<ReplicaTable?> LoadAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, string schema, string name, CancellationToken cancellationToken)
    {
        const string Sql = """
            SELECT a.attname, format_type(a.atttypid, a.atttypmod),
                   coalesce(a.attnum = ANY (i.indkey), false) AS is_key
            FROM pg_attribute a
            JOIN pg_class c ON c.oid = a.attrelid
            JOIN pg_namespace n ON n.oid = c.relnamespace
            LEFT JOIN pg_index i ON i.indrelid = c.oid AND i.indisprimary
            WHERE n.nspname = @schema AND c.relname = @name AND a.attnum > 0 AND NOT a.attisdropped
            ORDER BY a.attnum
            """;
        await using var command = new NpgsqlCommand(Sql, connection, transaction);
        command.Parameters.AddWithValue("schema", schema);
        command.Parameters.AddWithValue("name", name);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var columns = new List<(string, string)>();
        var key = new List<string>();
        while (await reader.ReadAsync(cancellationToken))
        {
            var column = reader.GetString(0);
            columns.Add((column, reader.GetString(1)));
            if (reader.GetBoolean(2))
            {
                key.Add(column);
            }
        }

        return columns.Count == 0 ? null : new ReplicaTable(schema, name, columns, key);
    }
}

using Npgsql;

namespace Geo.RegionNode.Shards;

/// <summary>Writes to the directory that every region makes: first writer wins, everyone learns what won.</summary>
internal static class DirectoryWrites
{
    /// <summary>
    /// Inserts a row unless one with the same key exists, and returns <paramref name="returned"/> of the row that holds the key:
    /// the one just written or the one already there. <paramref name="columns"/> starts with the key columns (as many as
    /// <paramref name="keyColumns"/>); <paramref name="values"/> follow them in order. Identifiers are the caller's constants.
    /// </summary>
    public static async Task<object> InsertOrReadAsync(NpgsqlDataSource directory, string table, string[] columns, int keyColumns, string returned,
        object[] values, CancellationToken cancellationToken)
    {
        var keys = columns[..keyColumns];
        var sql = $"""
            WITH inserted AS (
                INSERT INTO {table} ({string.Join(", ", columns)}) VALUES ({string.Join(", ", columns.Select((_, i) => $"${i + 1}"))})
                ON CONFLICT ({string.Join(", ", keys)}) DO NOTHING RETURNING {returned})
            SELECT {returned} FROM inserted
            UNION ALL SELECT {returned} FROM {table} WHERE {string.Join(" AND ", keys.Select((k, i) => $"{k} = ${i + 1}"))}
            LIMIT 1
            """;
        await using var connection = await directory.OpenConnectionAsync(cancellationToken);
        // Two tries: a row another writer commits while the statement runs is not in its snapshot, so the first may find none.
        for (var attempt = 0; attempt < 2; attempt++)
        {
            await using var command = new NpgsqlCommand(sql, connection);
            foreach (var value in values)
            {
                command.Parameters.Add(new() { Value = value });
            }

            if (await command.ExecuteScalarAsync(cancellationToken) is { } held and not DBNull)
            {
                return held;
            }
        }

        throw new TimeoutException($"a row of {table} was neither written nor found");
    }
}

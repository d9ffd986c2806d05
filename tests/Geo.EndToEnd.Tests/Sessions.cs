using Npgsql;

namespace Geo.EndToEnd.Tests;

/// <summary>What a shard's database holds of the sessions a NAS-like client was acknowledged for.</summary>
internal static class Sessions
{
    /// <summary>The ones of <paramref name="sessions"/> (Acct-Session-Id) that <paramref name="database"/> has a session row of.</summary>
    public static async Task<HashSet<string>> PresentAsync(string database, IEnumerable<string> sessions)
    {
        await using var connection = new NpgsqlConnection(database);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT acct_session_id FROM sessions WHERE acct_session_id = ANY($1)", connection);
        command.Parameters.Add(new() { Value = sessions.ToArray() });
        var present = new HashSet<string>(StringComparer.Ordinal);
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            present.Add(reader.GetString(0));
        }

        return present;
    }
}

using System.Diagnostics;
using System.Globalization;
using Geo.Engines.Postgres;
using Npgsql;
using NpgsqlTypes;

namespace Geo.LoadTests.Compare;

/// <summary>
/// FreeRADIUS's database in a private PostgreSQL cluster: Debian's rlm_sql schema, and one radcheck row per subscriber
/// with its password in clear (<c>Cleartext-Password :=</c>): FreeRADIUS cannot read Geo's sealed passwords.
/// </summary>
internal static class FreeRadiusDatabase
{
    public const string Name = "radius";

    /// <summary>Creates the database and its schema, then copies the subscribers in (binary COPY), printing progress.</summary>
    public static async Task CreateAsync(PostgresCluster cluster, IReadOnlyList<(string Username, string Password)> subscribers, TextWriter output, CancellationToken cancellationToken)
    {
        await using (var server = new NpgsqlConnection(cluster.ConnectionString()))
        {
            await server.OpenAsync(cancellationToken);
            await using var create = new NpgsqlCommand($"CREATE DATABASE {Name}", server);
            await create.ExecuteNonQueryAsync(cancellationToken);
        }

        await using var connection = new NpgsqlConnection(cluster.ConnectionString(Name));
        await connection.OpenAsync(cancellationToken);
        await using (var schema = new NpgsqlCommand(await File.ReadAllTextAsync(FreeRadiusPackages.SchemaFile, cancellationToken), connection))
        {
            await schema.ExecuteNonQueryAsync(cancellationToken);
        }

        var stopwatch = Stopwatch.StartNew();
        var step = Math.Max(10_000, subscribers.Count / 10);
        await using (var copy = await connection.BeginBinaryImportAsync("COPY radcheck (username, attribute, op, value) FROM STDIN (FORMAT BINARY)", cancellationToken))
        {
            for (var i = 0; i < subscribers.Count; i++)
            {
                await copy.StartRowAsync(cancellationToken);
                await copy.WriteAsync(subscribers[i].Username, NpgsqlDbType.Text, cancellationToken);
                await copy.WriteAsync("Cleartext-Password", NpgsqlDbType.Text, cancellationToken);
                await copy.WriteAsync(":=", NpgsqlDbType.Varchar, cancellationToken);
                await copy.WriteAsync(subscribers[i].Password, NpgsqlDbType.Text, cancellationToken);
                if ((i + 1) % step == 0 && i + 1 < subscribers.Count)
                {
                    output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  radcheck: {i + 1:N0} of {subscribers.Count:N0} subscribers copied ({stopwatch.Elapsed.TotalSeconds:F1} s)"));
                }
            }

            await copy.CompleteAsync(cancellationToken);
        }

        // Fresh statistics (the planner takes radcheck's username index from the first query on), and the load's after-effects
        // done now rather than in a measured run: autovacuum's pass over the new rows, the checkpoint that writes them.
        foreach (var sql in new[] { "VACUUM (ANALYZE) radcheck", "CHECKPOINT" })
        {
            await using var command = new NpgsqlCommand(sql, connection);
            await command.ExecuteNonQueryAsync(cancellationToken);
        }

        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  radcheck: {subscribers.Count:N0} subscribers in {stopwatch.Elapsed.TotalSeconds:F1} s"));
    }
}

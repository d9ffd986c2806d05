using Geo.Schema.Migrations;
using Geo.Testing;
using Npgsql;

namespace Geo.Schema.IntegrationTests;

public sealed class TenantSchemaTests
{
    [Fact]
    public async Task LedgerEntries_UpdateOrDelete_Refused()
    {
        await using var connection = await OpenMigratedTenantDatabaseAsync();
        var subscriber = Guid.CreateVersion7();
        await using (var seed = new NpgsqlCommand("""
            INSERT INTO plans (id, display_name) VALUES ('basic', 'Basic');
            INSERT INTO subscribers (id, username, password_enc, plan_id) VALUES (@s, 'alice', '\x00', 'basic');
            INSERT INTO ledger_entries (id, subscriber_id, kind, amount_micros, balance_after_micros, idempotency_key)
            VALUES (@l, @s, 'topup', 1000000, 1000000, 'k1');
            """, connection))
        {
            seed.Parameters.AddWithValue("s", subscriber);
            seed.Parameters.AddWithValue("l", Guid.CreateVersion7());
            await seed.ExecuteNonQueryAsync();
        }

        foreach (var sql in new[] { "UPDATE ledger_entries SET amount_micros = 0", "DELETE FROM ledger_entries", "TRUNCATE ledger_entries CASCADE" })
        {
            await using var command = new NpgsqlCommand(sql, connection);
            var error = await Assert.ThrowsAsync<PostgresException>(() => command.ExecuteNonQueryAsync());
            Assert.Contains("append-only", error.MessageText, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Ledger_ChargedCdrsAreEntriesOnceAndCannotBeChanged()
    {
        await using var connection = await OpenMigratedTenantDatabaseAsync();
        // A top-up of 10.00; a CDR charging 3.00 (since 0007); a CDR charging 2.00 whose charge was also written as a
        // ledger entry (before 0007); a CDR that charged nothing.
        await using (var seed = new NpgsqlCommand("""
            INSERT INTO plans (id, display_name) VALUES ('prepaid', 'Prepaid');
            INSERT INTO subscribers (id, username, password_enc, plan_id) VALUES ('00000000-0000-7000-8000-000000000001', 'carol', '\x00', 'prepaid');
            INSERT INTO nas_devices (id, address, secret_enc) VALUES ('bng-1', '192.0.2.1', '\x00');
            INSERT INTO sessions (id, nas_id, acct_session_id, subscriber_id, username, started_at, last_update_at)
            VALUES ('00000000-0000-7000-8000-000000000002', 'bng-1', 's1', '00000000-0000-7000-8000-000000000001', 'carol', now(), now());
            INSERT INTO cdrs (id, session_id, subscriber_id, kind, event_time, input_octets, output_octets, session_time_s, charged_micros, balance_after_micros)
            VALUES ('00000000-0000-7000-8000-00000000000a', '00000000-0000-7000-8000-000000000002', '00000000-0000-7000-8000-000000000001', 'interim', now(), 1, 1, 1, 3000000, 5000000),
                   ('00000000-0000-7000-8000-00000000000b', '00000000-0000-7000-8000-000000000002', '00000000-0000-7000-8000-000000000001', 'interim', now(), 2, 2, 2, 2000000, NULL),
                   ('00000000-0000-7000-8000-00000000000c', '00000000-0000-7000-8000-000000000002', '00000000-0000-7000-8000-000000000001', 'interim', now(), 3, 3, 3, 0, NULL);
            INSERT INTO ledger_entries (id, subscriber_id, kind, amount_micros, balance_after_micros, idempotency_key)
            VALUES (gen_random_uuid(), '00000000-0000-7000-8000-000000000001', 'topup', 10000000, 10000000, 'k1');
            INSERT INTO ledger_entries (id, subscriber_id, kind, amount_micros, balance_after_micros, cdr_id)
            VALUES (gen_random_uuid(), '00000000-0000-7000-8000-000000000001', 'charge', -2000000, 8000000, '00000000-0000-7000-8000-00000000000b');
            """, connection))
        {
            await seed.ExecuteNonQueryAsync();
        }

        await using (var ledger = new NpgsqlCommand("SELECT count(*), sum(amount_micros)::bigint, count(*) FILTER (WHERE kind = 'charge' AND balance_after_micros = 5000000) FROM ledger", connection))
        await using (var reader = await ledger.ExecuteReaderAsync())
        {
            Assert.True(await reader.ReadAsync());
            Assert.Equal((3L, 5_000_000L, 1L), (reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2)));
        }

        foreach (var sql in new[] { "UPDATE cdrs SET charged_micros = 0", "DELETE FROM cdrs" })
        {
            await using var command = new NpgsqlCommand(sql, connection);
            var error = await Assert.ThrowsAsync<PostgresException>(() => command.ExecuteNonQueryAsync());
            Assert.Contains("cdrs is append-only", error.MessageText, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task LedgerEntries_RepeatedIdempotencyKey_Refused()
    {
        await using var connection = await OpenMigratedTenantDatabaseAsync();
        var subscriber = Guid.CreateVersion7();
        const string Insert = "INSERT INTO ledger_entries (id, subscriber_id, kind, amount_micros, balance_after_micros, idempotency_key) VALUES (gen_random_uuid(), @s, 'topup', 1, 1, 'same-key')";
        await using (var seed = new NpgsqlCommand("INSERT INTO plans (id, display_name) VALUES ('basic', 'Basic'); INSERT INTO subscribers (id, username, password_enc, plan_id) VALUES (@s, 'bob', '\\x00', 'basic');", connection))
        {
            seed.Parameters.AddWithValue("s", subscriber);
            await seed.ExecuteNonQueryAsync();
        }

        await using var first = new NpgsqlCommand(Insert, connection);
        first.Parameters.AddWithValue("s", subscriber);
        await first.ExecuteNonQueryAsync();
        await using var second = new NpgsqlCommand(Insert, connection);
        second.Parameters.AddWithValue("s", subscriber);

        var error = await Assert.ThrowsAsync<PostgresException>(() => second.ExecuteNonQueryAsync());
        Assert.Equal(PostgresErrorCodes.UniqueViolation, error.SqlState);
    }

    [Fact]
    public async Task ReplicationProgress_Promoted_EveryFurtherWriteRefusedEvenUnderReplicaRole()
    {
        await using var connection = await OpenMigratedTenantDatabaseAsync();
        // As the applier writes it: replica role, where ordinary triggers do not fire.
        const string Upsert = """
            SET session_replication_role = replica;
            INSERT INTO replication_progress (source, position, heard_position, applied_transactions) VALUES (@source, @position, @position::pg_lsn, 1)
            ON CONFLICT (source) DO UPDATE SET position = excluded.position, heard_position = excluded.heard_position,
                applied_transactions = replication_progress.applied_transactions + excluded.applied_transactions
            """;
        await ExecuteAsync(connection, Upsert, ("source", "pgoutput:s"), ("position", "0/10"));
        await ExecuteAsync(connection, Upsert, ("source", "pgoutput:s"), ("position", "0/20"));
        Assert.Equal(2L, await ScalarAsync<long>(connection, "SELECT applied_transactions FROM replication_progress"));

        await ExecuteAsync(connection, "UPDATE replication_progress SET promoted_at = now() WHERE promoted_at IS NULL");

        foreach (var (source, position) in new[] { ("pgoutput:s", "0/30"), ("pgoutput:other", "0/40") })
        {
            var error = await Assert.ThrowsAsync<PostgresException>(() => ExecuteAsync(connection, Upsert, ("source", source), ("position", position)));
            Assert.Equal(PostgresErrorCodes.ObjectNotInPrerequisiteState, error.SqlState);
            Assert.Contains("was promoted", error.MessageText, StringComparison.Ordinal);
        }

        var unpromote = await Assert.ThrowsAsync<PostgresException>(() => ExecuteAsync(connection, "UPDATE replication_progress SET promoted_at = NULL"));
        Assert.Equal(PostgresErrorCodes.ObjectNotInPrerequisiteState, unpromote.SqlState);
        Assert.Equal("0/20", await ScalarAsync<string>(connection, "SELECT position FROM replication_progress"));

        // An operator seeding the database as a replica again removes the rows first; then streams may write.
        await ExecuteAsync(connection, "DELETE FROM replication_progress");
        await ExecuteAsync(connection, Upsert, ("source", "pgoutput:s"), ("position", "0/50"));
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql, params (string Name, object Value)[] parameters)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }

        await command.ExecuteNonQueryAsync();
    }

    private static async Task<T> ScalarAsync<T>(NpgsqlConnection connection, string sql)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        return (T)(await command.ExecuteScalarAsync())!;
    }

    /// <summary>A new database with every tenant migration applied, and a connection to it.</summary>
    private static async Task<NpgsqlConnection> OpenMigratedTenantDatabaseAsync()
    {
        var database = await (await TestPostgres.SharedAsync()).CreateDatabaseAsync();
        await new MigrationRunner().ApplyAsync(database, MigrationSet.Tenant);
        var connection = new NpgsqlConnection(database);
        await connection.OpenAsync();
        return connection;
    }
}

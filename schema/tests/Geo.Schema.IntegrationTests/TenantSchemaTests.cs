using Geo.Schema.Migrations;
using Geo.Testing;
using Npgsql;

namespace Geo.Schema.IntegrationTests;

public sealed class TenantSchemaTests
{
    [Fact]
    public async Task LedgerEntries_UpdateOrDelete_Refused()
    {
        var database = await (await TestPostgres.SharedAsync()).CreateDatabaseAsync();
        await new MigrationRunner().ApplyAsync(database, MigrationSet.Tenant);
        await using var connection = new NpgsqlConnection(database);
        await connection.OpenAsync();
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
    public async Task LedgerEntries_RepeatedIdempotencyKey_Refused()
    {
        var database = await (await TestPostgres.SharedAsync()).CreateDatabaseAsync();
        await new MigrationRunner().ApplyAsync(database, MigrationSet.Tenant);
        await using var connection = new NpgsqlConnection(database);
        await connection.OpenAsync();
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
}

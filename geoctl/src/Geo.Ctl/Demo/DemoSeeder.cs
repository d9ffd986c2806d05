using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Geo.Ctl.LocalStack;
using Geo.Engines;
using Geo.Provisioning;
using Geo.Schema;
using Geo.Schema.Secrets;
using Npgsql;
using NpgsqlTypes;

namespace Geo.Ctl.Demo;

/// <summary>
/// Writes the demo data: the directory (regions, tenants, shards, NAS, placements) and each shard database
/// (plans, NAS inventory, subscribers with sealed passwords, balances and their ledger, quota buckets).
/// Idempotent: a shard that already has subscribers is left as it is.
/// </summary>
internal sealed class DemoSeeder(StackLayout layout, SecretBox secrets)
{
    private const string PasswordAlphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";

    public static async Task SeedDirectoryAsync(string directory, IReadOnlyList<RegionState> regions, IReadOnlyList<string> regionIds, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(directory);
        await connection.OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var batch = new NpgsqlBatch(connection, transaction);
        foreach (var region in regions)
        {
            batch.BatchCommands.Add(Command("""
                INSERT INTO regions (id, display_name, api_url, radius_host, radius_auth_port, radius_acct_port)
                VALUES ($1, $2, $3, '127.0.0.1', $4, $5)
                ON CONFLICT (id) DO UPDATE SET api_url = EXCLUDED.api_url, radius_auth_port = EXCLUDED.radius_auth_port,
                    radius_acct_port = EXCLUDED.radius_acct_port, updated_at = now()
                """, region.Id, $"Region {region.Id}", $"http://127.0.0.1:{region.ApiPort.ToString(CultureInfo.InvariantCulture)}", region.RadiusAuthPort, region.RadiusAcctPort));
        }

        foreach (var tenant in DemoData.Tenants)
        {
            batch.BatchCommands.Add(Command("INSERT INTO tenants (id, display_name) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING", tenant.Id, tenant.DisplayName));
            foreach (var home in regionIds)
            {
                // An existing shard keeps its owner and epoch: the demo seed never undoes a promotion.
                batch.BatchCommands.Add(Command("""
                    INSERT INTO shards (tenant_id, home_region, owner_region, standby_region, database_name)
                    VALUES ($1, $2, $2, $3, $4) ON CONFLICT (tenant_id, home_region) DO NOTHING
                    """, tenant.Id, home, (object?)DemoData.StandbyOf(home, regionIds) ?? DBNull.Value, ShardDatabase.Name(tenant.Id, home)));
            }

            foreach (var nas in DemoData.NasDevices(tenant, regionIds))
            {
                batch.BatchCommands.Add(Command("""
                    INSERT INTO nas_devices (tenant_id, id, address, primary_region, backup_region)
                    VALUES ($1, $2, $3::inet, $4, $5) ON CONFLICT (tenant_id, id) DO NOTHING
                    """, nas.TenantId, nas.Id, nas.Address, nas.PrimaryRegion, (object?)nas.BackupRegion ?? DBNull.Value));
            }
        }

        await batch.ExecuteNonQueryAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
    }

    /// <summary>Issues each demo tenant an API key when it has none: the key to a private file, its SHA-256 to the directory.</summary>
    public async Task EnsureApiKeysAsync(string directory, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(directory);
        await connection.OpenAsync(cancellationToken);
        foreach (var tenant in DemoData.Tenants)
        {
            var file = layout.ApiKeyFile(tenant.Id);
            if (File.Exists(file))
            {
                continue;
            }

            var key = TenantApiKeys.New(tenant.Id);
            await PrivateFile.WriteAsync(file, key, cancellationToken);
            await using var update = new NpgsqlCommand("UPDATE tenants SET api_key_hash = $2 WHERE id = $1", connection);
            update.Parameters.Add(new() { Value = tenant.Id });
            update.Parameters.Add(new() { Value = TenantApiKeys.Hash(key) });
            await update.ExecuteNonQueryAsync(cancellationToken);
        }
    }

    /// <summary>Seeds one shard database; returns how many subscribers it holds and whether this call wrote them.</summary>
    public async Task<(long Subscribers, bool Seeded)> SeedShardAsync(
        string shard, string directory, DemoTenant tenant, string home, IReadOnlyList<string> regionIds, int count, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(shard);
        await connection.OpenAsync(cancellationToken);
        await using (var existing = new NpgsqlCommand("SELECT count(*) FROM subscribers", connection))
        {
            var subscribers = (long)(await existing.ExecuteScalarAsync(cancellationToken))!;
            if (subscribers > 0)
            {
                return (subscribers, false);
            }
        }

        var now = DateTime.UtcNow;
        var rows = new List<(Guid Id, string Username, string Password, int Index)>(count);
        for (var i = 1; i <= count; i++)
        {
            rows.Add((Guid.CreateVersion7(), DemoData.Username(tenant.Id, home, i), RandomNumberGenerator.GetString(PasswordAlphabet, 12), i));
        }

        // The placement goes to the directory before the subscriber row exists, so a lookup never points nowhere.
        await WritePlacementsAsync(directory, tenant.Id, home, rows.Select(r => r.Username), cancellationToken);

        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using (var plans = new NpgsqlCommand(DemoData.PlansSql, connection, transaction))
        {
            await plans.ExecuteNonQueryAsync(cancellationToken);
        }

        await WriteNasInventoryAsync(connection, transaction, tenant, regionIds, cancellationToken);
        await CopySubscribersAsync(connection, rows, now, cancellationToken);
        await CopyMoneyAndQuotaAsync(connection, rows, now, cancellationToken);

        // The credentials file is in place before the commit: a crash in between leaves an unseeded shard
        // that the next run seeds again (and overwrites this file), never subscribers without credentials.
        var credentials = layout.CredentialsFile(ShardDatabase.Name(tenant.Id, home));
        System.IO.Directory.CreateDirectory(Path.GetDirectoryName(credentials)!);
        var text = new StringBuilder("username,password\n");
        foreach (var row in rows)
        {
            text.Append(row.Username).Append(',').Append(row.Password).Append('\n');
        }

        await PrivateFile.WriteAsync(credentials, text.ToString(), cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return (count, true);
    }

    private async Task WriteNasInventoryAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, DemoTenant tenant, IReadOnlyList<string> regionIds, CancellationToken cancellationToken)
    {
        // Every shard of a tenant knows all of the tenant's NAS: the backup region must recognize a NAS the
        // moment it fails over to it.
        foreach (var nas in DemoData.NasDevices(tenant, regionIds))
        {
            var secretFile = layout.NasSecretFile(nas.Id);
            if (!File.Exists(secretFile))
            {
                System.IO.Directory.CreateDirectory(Path.GetDirectoryName(secretFile)!);
                await PrivateFile.WriteAsync(secretFile, RandomNumberGenerator.GetString(PasswordAlphabet, 24), cancellationToken);
            }

            var secret = (await File.ReadAllTextAsync(secretFile, cancellationToken)).Trim();
            await using var insert = new NpgsqlCommand("""
                INSERT INTO nas_devices (id, address, secret_enc, vendor) VALUES ($1, $2::inet, $3, $4) ON CONFLICT (id) DO NOTHING
                """, connection, transaction);
            insert.Parameters.Add(new() { Value = nas.Id });
            insert.Parameters.Add(new() { Value = nas.Address });
            insert.Parameters.Add(new() { Value = secrets.Seal(secret, SecretContext.NasSecret(nas.Id)) });
            insert.Parameters.Add(new() { Value = nas.Vendor });
            await insert.ExecuteNonQueryAsync(cancellationToken);
        }
    }

    private async Task CopySubscribersAsync(NpgsqlConnection connection, List<(Guid Id, string Username, string Password, int Index)> rows, DateTime now, CancellationToken cancellationToken)
    {
        await using var copy = await connection.BeginBinaryImportAsync(
            "COPY subscribers (id, username, password_enc, plan_id, status, valid_until) FROM STDIN (FORMAT BINARY)", cancellationToken);
        foreach (var row in rows)
        {
            var plan = DemoData.PlanOf(row.Index);
            await copy.StartRowAsync(cancellationToken);
            await copy.WriteAsync(row.Id, NpgsqlDbType.Uuid, cancellationToken);
            await copy.WriteAsync(row.Username, NpgsqlDbType.Text, cancellationToken);
            await copy.WriteAsync(secrets.Seal(row.Password, SecretContext.SubscriberPassword(row.Id)), NpgsqlDbType.Bytea, cancellationToken);
            await copy.WriteAsync(plan, NpgsqlDbType.Text, cancellationToken);
            await copy.WriteAsync(DemoData.IsSuspended(row.Index) ? "suspended" : "active", NpgsqlDbType.Text, cancellationToken);
            if (plan == "prepaid-5g")
            {
                await copy.WriteAsync(now.AddDays(30), NpgsqlDbType.TimestampTz, cancellationToken);
            }
            else
            {
                await copy.WriteNullAsync(cancellationToken);
            }
        }

        await copy.CompleteAsync(cancellationToken);
    }

    private static async Task CopyMoneyAndQuotaAsync(NpgsqlConnection connection, List<(Guid Id, string Username, string Password, int Index)> rows, DateTime now, CancellationToken cancellationToken)
    {
        // Prepaid subscribers start with a 10.00 top-up; the balance equals the sum of the ledger from the start.
        const long InitialTopUp = 10_000_000;
        var monthStart = new DateTime(now.Year, now.Month, 1, 0, 0, 0, DateTimeKind.Utc);

        await using (var balances = await connection.BeginBinaryImportAsync("COPY balances (subscriber_id, amount_micros) FROM STDIN (FORMAT BINARY)", cancellationToken))
        {
            foreach (var row in rows)
            {
                await balances.StartRowAsync(cancellationToken);
                await balances.WriteAsync(row.Id, NpgsqlDbType.Uuid, cancellationToken);
                await balances.WriteAsync(DemoData.PlanOf(row.Index) == "prepaid-5g" ? InitialTopUp : 0L, NpgsqlDbType.Bigint, cancellationToken);
            }

            await balances.CompleteAsync(cancellationToken);
        }

        await using (var ledger = await connection.BeginBinaryImportAsync(
            "COPY ledger_entries (id, subscriber_id, kind, amount_micros, balance_after_micros, idempotency_key, reason) FROM STDIN (FORMAT BINARY)", cancellationToken))
        {
            foreach (var row in rows.Where(r => DemoData.PlanOf(r.Index) == "prepaid-5g"))
            {
                await ledger.StartRowAsync(cancellationToken);
                await ledger.WriteAsync(Guid.CreateVersion7(), NpgsqlDbType.Uuid, cancellationToken);
                await ledger.WriteAsync(row.Id, NpgsqlDbType.Uuid, cancellationToken);
                await ledger.WriteAsync("topup", NpgsqlDbType.Text, cancellationToken);
                await ledger.WriteAsync(InitialTopUp, NpgsqlDbType.Bigint, cancellationToken);
                await ledger.WriteAsync(InitialTopUp, NpgsqlDbType.Bigint, cancellationToken);
                await ledger.WriteAsync($"demo-seed-{row.Id:N}", NpgsqlDbType.Text, cancellationToken);
                await ledger.WriteAsync("demo seed", NpgsqlDbType.Text, cancellationToken);
            }

            await ledger.CompleteAsync(cancellationToken);
        }

        await using var buckets = await connection.BeginBinaryImportAsync(
            "COPY quota_buckets (id, subscriber_id, kind, granted, period_start, period_end) FROM STDIN (FORMAT BINARY)", cancellationToken);
        foreach (var row in rows)
        {
            var plan = DemoData.PlanOf(row.Index);
            if (plan is not ("prepaid-5g" or "fair-use-100g"))
            {
                continue;
            }

            var (granted, start, end) = plan == "prepaid-5g"
                ? (5_000_000_000L, now, now.AddDays(30))
                : (100_000_000_000L, monthStart, monthStart.AddMonths(1));
            await buckets.StartRowAsync(cancellationToken);
            await buckets.WriteAsync(Guid.CreateVersion7(), NpgsqlDbType.Uuid, cancellationToken);
            await buckets.WriteAsync(row.Id, NpgsqlDbType.Uuid, cancellationToken);
            await buckets.WriteAsync("data", NpgsqlDbType.Text, cancellationToken);
            await buckets.WriteAsync(granted, NpgsqlDbType.Bigint, cancellationToken);
            await buckets.WriteAsync(start, NpgsqlDbType.TimestampTz, cancellationToken);
            await buckets.WriteAsync(end, NpgsqlDbType.TimestampTz, cancellationToken);
        }

        await buckets.CompleteAsync(cancellationToken);
    }

    private static async Task WritePlacementsAsync(string directory, string tenantId, string home, IEnumerable<string> usernames, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(directory);
        await connection.OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using (var temp = new NpgsqlCommand("CREATE TEMP TABLE placement_load (username text NOT NULL) ON COMMIT DROP", connection, transaction))
        {
            await temp.ExecuteNonQueryAsync(cancellationToken);
        }

        await using (var copy = await connection.BeginBinaryImportAsync("COPY placement_load (username) FROM STDIN (FORMAT BINARY)", cancellationToken))
        {
            foreach (var username in usernames)
            {
                await copy.WriteRowAsync(cancellationToken, username);
            }

            await copy.CompleteAsync(cancellationToken);
        }

        await using (var insert = new NpgsqlCommand("""
            INSERT INTO subscriber_placements (tenant_id, username, home_region)
            SELECT $1, username, $2 FROM placement_load ON CONFLICT (tenant_id, username) DO NOTHING
            """, connection, transaction))
        {
            insert.Parameters.Add(new() { Value = tenantId });
            insert.Parameters.Add(new() { Value = home });
            await insert.ExecuteNonQueryAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
    }

    private static NpgsqlBatchCommand Command(string sql, params object[] values)
    {
        var command = new NpgsqlBatchCommand(sql);
        foreach (var value in values)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = value });
        }

        return command;
    }
}

using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace Geo.Schema.Migrations;

/// <summary>What one run did to one database.</summary>
/// <param name="Database">The database name.</param>
/// <param name="Applied">The migrations this run applied, in order.</param>
/// <param name="AlreadyApplied">How many were applied before this run.</param>
public sealed record MigrationReport(string Database, IReadOnlyList<Migration> Applied, int AlreadyApplied);

/// <summary>
/// Applies pending migrations in order, each in one transaction with its <c>geo_schema_migrations</c> row. Refuses changed
/// applied files and unknown versions; an advisory lock makes concurrent runners take turns.
/// </summary>
public sealed partial class MigrationRunner(ILogger<MigrationRunner>? logger = null)
{
    /// <summary>The advisory lock key: "geo-migr" as a big-endian 64-bit number.</summary>
    private const long AdvisoryLockKey = 0x67656f2d6d696772;

    private readonly ILogger _logger = logger ?? NullLogger<MigrationRunner>.Instance;

    /// <summary>Applies what is pending of <paramref name="set"/> to the database of <paramref name="connectionString"/>.</summary>
    public async Task<MigrationReport> ApplyAsync(string connectionString, MigrationSet set, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(set);
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        var database = connection.Database;

        await using (var tryLock = new NpgsqlCommand("SELECT pg_try_advisory_lock(@key)", connection))
        {
            tryLock.Parameters.AddWithValue("key", AdvisoryLockKey);
            if (!(bool)(await tryLock.ExecuteScalarAsync(cancellationToken))!)
            {
                LogWaitingForLock(_logger, database);
                await using var waitLock = new NpgsqlCommand("SELECT pg_advisory_lock(@key)", connection);
                waitLock.Parameters.AddWithValue("key", AdvisoryLockKey);
                waitLock.CommandTimeout = 0;
                await waitLock.ExecuteNonQueryAsync(cancellationToken);
            }
        }

        try
        {
            await EnsureHistoryTableAsync(connection, cancellationToken);
            var history = await ReadHistoryAsync(connection, set.Name, cancellationToken);
            var pending = Plan(set, history, database);
            var applied = new List<Migration>(pending.Count);
            foreach (var migration in pending)
            {
                await ApplyOneAsync(connection, set.Name, migration, cancellationToken);
                applied.Add(migration);
            }

            if (applied.Count == 0)
            {
                LogUpToDate(_logger, database, set.Name, set.LatestVersion);
            }

            return new MigrationReport(database, applied, history.Count);
        }
        finally
        {
            // Released explicitly: the connection goes back to a pool that would otherwise keep the lock.
            await using var unlock = new NpgsqlCommand("SELECT pg_advisory_unlock(@key)", connection);
            unlock.Parameters.AddWithValue("key", AdvisoryLockKey);
            await unlock.ExecuteNonQueryAsync(CancellationToken.None);
        }
    }

    /// <summary>The migrations still to apply, after checking the database's history against the set.</summary>
    internal static List<Migration> Plan(MigrationSet set, IReadOnlyDictionary<int, AppliedMigration> history, string database)
    {
        var known = set.Migrations.ToDictionary(m => m.Version);
        foreach (var (version, applied) in history.OrderBy(h => h.Key))
        {
            if (!known.TryGetValue(version, out var migration))
            {
                throw new MigrationException(
                    $"database '{database}' has {set.Name} migration {applied.FileName} applied, which this build does not have " +
                    $"(this build knows up to version {set.LatestVersion}); run a newer geo-migrate");
            }

            if (!migration.Checksum.AsSpan().SequenceEqual(applied.Checksum))
            {
                throw new MigrationException(
                    $"{set.Name} migration {migration.FileName} was changed after it was applied to database '{database}' " +
                    $"(applied checksum {Convert.ToHexStringLower(applied.Checksum)[..12]}, file checksum {Convert.ToHexStringLower(migration.Checksum)[..12]}). " +
                    "Applied migrations are immutable: restore the file and add a new migration instead.");
            }
        }

        return set.Migrations.Where(m => !history.ContainsKey(m.Version)).ToList();
    }

    private async Task ApplyOneAsync(NpgsqlConnection connection, string setName, Migration migration, CancellationToken cancellationToken)
    {
        var stopwatch = Stopwatch.StartNew();
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        try
        {
            await using (var apply = new NpgsqlCommand(migration.Sql, connection, transaction) { CommandTimeout = 0 })
            {
                await apply.ExecuteNonQueryAsync(cancellationToken);
            }

            await using (var record = new NpgsqlCommand(
                "INSERT INTO geo_schema_migrations (set_name, version, file_name, checksum, applied_by, execution_ms) " +
                "VALUES (@set, @version, @file, @checksum, @by, @ms)", connection, transaction))
            {
                record.Parameters.AddWithValue("set", setName);
                record.Parameters.AddWithValue("version", migration.Version);
                record.Parameters.AddWithValue("file", migration.FileName);
                record.Parameters.AddWithValue("checksum", migration.Checksum);
                record.Parameters.AddWithValue("by", $"{Environment.MachineName}:{Environment.ProcessId}");
                record.Parameters.AddWithValue("ms", (int)stopwatch.ElapsedMilliseconds);
                await record.ExecuteNonQueryAsync(cancellationToken);
            }

            await transaction.CommitAsync(cancellationToken);
        }
        catch (PostgresException ex)
        {
            throw new MigrationException($"{setName} migration {migration.FileName} failed on database '{connection.Database}': {ex.MessageText}" +
                (ex.Position > 0 ? $" (at character {ex.Position})" : ""), ex);
        }

        LogApplied(_logger, connection.Database, migration.FileName, stopwatch.ElapsedMilliseconds);
    }

    private static async Task EnsureHistoryTableAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        const string Sql = """
            DO $$ BEGIN
            IF to_regclass('geo_schema_migrations') IS NOT NULL THEN
                RETURN;  -- Looked at first: a role that may not create tables (a service's) can still find a database up to date.
            END IF;
            CREATE TABLE geo_schema_migrations (
                set_name      text NOT NULL,
                version       integer NOT NULL,
                file_name     text NOT NULL,
                checksum      bytea NOT NULL,
                applied_at    timestamptz NOT NULL DEFAULT now(),
                applied_by    text NOT NULL,
                execution_ms  integer NOT NULL,
                PRIMARY KEY (set_name, version)
            );
            END $$
            """;
        await using var command = new NpgsqlCommand(Sql, connection);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static async Task<Dictionary<int, AppliedMigration>> ReadHistoryAsync(NpgsqlConnection connection, string setName, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("SELECT version, file_name, checksum FROM geo_schema_migrations WHERE set_name = @set", connection);
        command.Parameters.AddWithValue("set", setName);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var history = new Dictionary<int, AppliedMigration>();
        while (await reader.ReadAsync(cancellationToken))
        {
            history[reader.GetInt32(0)] = new AppliedMigration(reader.GetString(1), (byte[])reader[2]);
        }

        return history;
    }

    [LoggerMessage(EventId = 6000, Level = LogLevel.Information, Message = "Database {Database}: applied {File} in {ElapsedMs} ms")]
    private static partial void LogApplied(ILogger logger, string database, string file, long elapsedMs);

    [LoggerMessage(EventId = 6001, Level = LogLevel.Information, Message = "Database {Database}: {Set} schema up to date at version {Version}")]
    private static partial void LogUpToDate(ILogger logger, string database, string set, int version);

    [LoggerMessage(EventId = 6002, Level = LogLevel.Information, Message = "Database {Database}: another migration runner holds the lock; waiting for it")]
    private static partial void LogWaitingForLock(ILogger logger, string database);
}

/// <summary>A row of <c>geo_schema_migrations</c>.</summary>
internal sealed record AppliedMigration(string FileName, byte[] Checksum);

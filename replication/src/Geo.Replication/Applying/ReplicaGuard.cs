using Geo.Schema;
using Geo.Schema.Migrations;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Geo.Replication.Applying;

/// <summary>
/// Prepares a shard's replica database in the standby region: creates it when missing, optionally applies the
/// tenant migrations, and makes it read-only (<c>default_transaction_read_only</c>) for every session but the
/// applier's, which turns it off for itself. Promotion lifts the guard (<see cref="Promotion.ReplicaPromotion.PromoteAsync"/>);
/// a promoted database is never guarded again.
/// </summary>
public static partial class ReplicaGuard
{
    /// <summary>Creates the replica database if needed, migrates it when asked, and makes it read-only to everyone but the applier.</summary>
    public static async Task PrepareAsync(string replicaConnectionString, bool applyTenantMigrations, ILogger logger, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(logger);
        var database = new NpgsqlConnectionStringBuilder(replicaConnectionString).Database
            ?? throw new ArgumentException("the replica connection string names no database", nameof(replicaConnectionString));
        var maintenance = new NpgsqlConnectionStringBuilder(replicaConnectionString) { Database = "postgres" }.ConnectionString;
        await using (var connection = new NpgsqlConnection(maintenance))
        {
            await connection.OpenAsync(cancellationToken);
            await using var exists = new NpgsqlCommand("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = @name)", connection);
            exists.Parameters.AddWithValue("name", database);
            if (!(bool)(await exists.ExecuteScalarAsync(cancellationToken))!)
            {
                await using var create = new NpgsqlCommand($"CREATE DATABASE {ShardDatabase.Quote(database)}", connection);
                await create.ExecuteNonQueryAsync(cancellationToken);
                LogCreated(logger, database);
            }
        }

        var writable = WritableConnectionString(replicaConnectionString);
        if (applyTenantMigrations)
        {
            await new MigrationRunner().ApplyAsync(writable, MigrationSet.Tenant, cancellationToken);
        }

        await using var guard = new NpgsqlConnection(writable);
        await guard.OpenAsync(cancellationToken);
        await using var transaction = await guard.BeginTransactionAsync(cancellationToken);
        // A promoted replica is its shard's owner database: a replicator that has not seen the promotion must not make it
        // read-only again. The mark is read under a lock that a promotion's marking waits for, and the other way round.
        if (await PromotedMark.ReadAsync(guard, transaction, lockShared: true, cancellationToken) is { } promotedAt)
        {
            throw PromotedMark.Refusal(database, promotedAt, "(replica guard)");
        }

        await using var alter = new NpgsqlCommand($"ALTER DATABASE {ShardDatabase.Quote(database)} SET default_transaction_read_only = on", guard, transaction);
        await alter.ExecuteNonQueryAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
    }

    /// <summary>Lifts the read-only default of a replica database (promotion). Sessions opened afterwards can write.</summary>
    public static async Task ReleaseAsync(string replicaConnectionString, CancellationToken cancellationToken = default)
    {
        var database = new NpgsqlConnectionStringBuilder(replicaConnectionString).Database
            ?? throw new ArgumentException("the replica connection string names no database", nameof(replicaConnectionString));
        await using var connection = new NpgsqlConnection(WritableConnectionString(replicaConnectionString));
        await connection.OpenAsync(cancellationToken);
        await using var alter = new NpgsqlCommand($"ALTER DATABASE {ShardDatabase.Quote(database)} RESET default_transaction_read_only", connection);
        await alter.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>A connection string whose sessions may write to the guarded replica (migrations, the guard itself).</summary>
    public static string WritableConnectionString(string replicaConnectionString) => PlatformDatabases.WritableReplica(replicaConnectionString);

    [LoggerMessage(EventId = 4110, Level = LogLevel.Information, Message = "Created replica database {Database}")]
    private static partial void LogCreated(ILogger logger, string database);
}

using Geo.Schema;
using Geo.Schema.Migrations;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Geo.Replication.Applying;

/// <summary>
/// Prepares a shard's replica database in the standby region: creates it when missing, optionally applies the
/// tenant migrations, and makes it read-only (<c>default_transaction_read_only</c>) for every session but the
/// applier's, which turns it off for itself. What is done already is only checked, so the replicator's own role (which
/// may neither create, migrate nor guard a database) passes a replica the administrator prepared and says clearly what
/// is missing otherwise. Promotion lifts the guard (<see cref="Promotion.ReplicaPromotion.PromoteAsync"/>); a promoted
/// database is never guarded again.
/// </summary>
public static partial class ReplicaGuard
{
    private const string HowToPrepare =
        "the administrator prepares replicas: tenant creation and 'geoctl dr rejoin' do, and so do the shard migrations (geo-migrate, 'geoctl up'), " +
        "which create a missing replica read-only and migrate it";

    /// <summary>Creates the replica database if needed, migrates it when asked, and makes it read-only to everyone but the applier.</summary>
    /// <exception cref="ReplicationException">Something is missing and this connection's role may not make it (the message says what and who does).</exception>
    public static async Task PrepareAsync(string replicaConnectionString, bool applyTenantMigrations, ILogger logger, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(logger);
        // Done once per stream or provisioning step: no pool, whose idle sessions a rejoin's freeze may have ended meanwhile.
        replicaConnectionString = new NpgsqlConnectionStringBuilder(replicaConnectionString) { Pooling = false }.ConnectionString;
        var database = ReplicaDatabase.NameOf(replicaConnectionString);
        var role = new NpgsqlConnectionStringBuilder(replicaConnectionString).Username;
        try
        {
            if (await ReplicaDatabase.CreateIfMissingAsync(replicaConnectionString, cancellationToken))
            {
                LogCreated(logger, database);
            }
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.InsufficientPrivilege)
        {
            throw new ReplicationException($"replica database '{database}' does not exist and role {role} may not create it: {HowToPrepare}", ex);
        }

        var writable = WritableConnectionString(replicaConnectionString);
        if (applyTenantMigrations)
        {
            try
            {
                await new MigrationRunner().ApplyAsync(writable, MigrationSet.Tenant, cancellationToken);
            }
            catch (Exception ex) when (ex is PostgresException { SqlState: PostgresErrorCodes.InsufficientPrivilege } or MigrationException { InnerException: PostgresException { SqlState: PostgresErrorCodes.InsufficientPrivilege } })
            {
                throw new ReplicationException(
                    $"replica database '{database}' lacks tenant migrations of this build and role {role} may not apply them ({ex.Message}): {HowToPrepare}", ex);
            }
        }

        await using var guard = new NpgsqlConnection(writable);
        await guard.OpenAsync(cancellationToken);
        await using var transaction = await guard.BeginTransactionAsync(cancellationToken);
        // A promoted replica is its shard's owner database: a replicator that has not seen the promotion must not make it
        // read-only again (nor stream into it). The mark is read under a lock that a promotion's marking waits for, and the
        // other way round.
        if (await PromotedMark.ReadAsync(guard, transaction, lockShared: true, cancellationToken) is { } promotedAt)
        {
            throw PromotedMark.Refusal(database, promotedAt, "(replica guard)");
        }

        if (await ReplicaDatabase.IsGuardedAsync(guard, database, transaction, cancellationToken))
        {
            await transaction.CommitAsync(cancellationToken);
            return;
        }

        try
        {
            await using var alter = new NpgsqlCommand(ReplicaDatabase.GuardSql(database), guard, transaction);
            await alter.ExecuteNonQueryAsync(cancellationToken);
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.InsufficientPrivilege)
        {
            throw new ReplicationException($"replica database '{database}' is not read-only (default_transaction_read_only) and role {role} may not make it so: " +
                $"as the administrator, ALTER DATABASE \"{database}\" SET default_transaction_read_only = on (once sure it is not the shard's owner database)", ex);
        }

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

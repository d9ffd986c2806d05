using Npgsql;

namespace Geo.Schema;

/// <summary>
/// A shard's replica database in its standby region, as the administrator prepares it: created when missing and made
/// read-only (<c>default_transaction_read_only</c>) for every session but those that turn it off for themselves (the
/// replicator's applier, migrations). The replicator's own role may do neither, so tenant creation, rejoin and the shard
/// migrations (<c>geo-migrate</c>, <c>geoctl up</c>) prepare replicas, and the replicator checks what it finds.
/// </summary>
public static class ReplicaDatabase
{
    /// <summary>
    /// Creates the replica database named by <paramref name="replicaConnectionString"/> (an administrator's connection)
    /// when its server has none, read-only from the start. A database that exists is left as it is (it may be a promoted
    /// replica: only the replicator's guard, which checks that, makes an existing database read-only). True when created.
    /// </summary>
    public static async Task<bool> CreateIfMissingAsync(string replicaConnectionString, CancellationToken cancellationToken = default)
    {
        var database = NameOf(replicaConnectionString);
        await using var connection = await PlatformDatabases.OpenUnpooledAsync(
            new NpgsqlConnectionStringBuilder(replicaConnectionString) { Database = "postgres" }.ConnectionString, cancellationToken);
        if (!await ShardDatabase.CreateIfMissingAsync(connection, database, cancellationToken))
        {
            // There already, or created meanwhile by another preparer: theirs to guard.
            return false;
        }

        await using var guard = new NpgsqlCommand(GuardSql(database), connection);
        await guard.ExecuteNonQueryAsync(cancellationToken);
        return true;
    }

    /// <summary>Whether <paramref name="database"/> is read-only by default for every role (its guard is set).</summary>
    public static async Task<bool> IsGuardedAsync(NpgsqlConnection connection, string database, NpgsqlTransaction? transaction = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(connection);
        await using var guarded = new NpgsqlCommand(
            """
            SELECT EXISTS (SELECT 1 FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase
                           WHERE d.datname = $1 AND s.setrole = 0 AND 'default_transaction_read_only=on' = ANY (s.setconfig))
            """, connection, transaction);
        guarded.Parameters.Add(new() { Value = database });
        return (bool)(await guarded.ExecuteScalarAsync(cancellationToken))!;
    }

    /// <summary>The statement that makes <paramref name="database"/> read-only by default (its owner or a superuser runs it).</summary>
    public static string GuardSql(string database) => $"ALTER DATABASE {ShardDatabase.Quote(database)} SET default_transaction_read_only = on";

    /// <summary>The database a connection string names.</summary>
    public static string NameOf(string replicaConnectionString) =>
        new NpgsqlConnectionStringBuilder(replicaConnectionString).Database is { Length: > 0 } name
            ? name
            : throw new ArgumentException("the replica connection string names no database", nameof(replicaConnectionString));
}

using System.Diagnostics;
using System.Globalization;
using Geo.Replication.Applying;
using Geo.Replication.Changes;
using Geo.Schema;
using Npgsql;

namespace Geo.Replication.Promotion;

/// <summary>
/// The replica side of a promotion (<c>geoctl dr promote</c>): stop the shard's applier at a transaction boundary, read where the
/// replica stands and estimate what the promotion loses, then make the replica its shard's owner database.
/// </summary>
public static class ReplicaPromotion
{
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(100);

    /// <summary>How long <c>pg_terminate_backend</c> waits for an applier session to exit, in milliseconds.</summary>
    private const int TerminateWaitMilliseconds = 10_000;

    /// <summary>
    /// The replica database's applier sessions: named by their <c>application_name</c>, or (a replicator that predates the name)
    /// holding the advisory lock an applier takes for one of the database's streams.
    /// </summary>
    private const string ApplierSessions = """
        SELECT a.pid FROM pg_stat_activity a
        WHERE a.datname = current_database() AND a.pid <> pg_backend_pid()
          AND (a.application_name = $1 OR EXISTS (
              SELECT 1 FROM pg_locks l JOIN replication_progress p ON ((l.classid::bigint << 32) | l.objid::bigint) = hashtextextended($2 || p.source, 0)
              WHERE l.pid = a.pid AND l.locktype = 'advisory' AND l.objsubid = 1 AND l.granted
                AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())))
        """;

    /// <summary>
    /// Waits up to <paramref name="wait"/> for the replica database's applier sessions to go away (the replicator stops a shard
    /// when the directory marks it promoting), then terminates any left (a stream whose replicator cannot see the directory); an
    /// interrupted apply transaction rolls back, so the replica stays at a transaction boundary. Returns how many sessions had to
    /// be terminated.
    /// </summary>
    /// <remarks>
    /// A replicator that cannot see the directory starts its stream again after its back-off; <see cref="PromoteAsync"/> refuses it
    /// from the moment it marks the replica, so the position read after that is final.
    /// </remarks>
    /// <param name="replicaConnectionString">The replica database (as <see cref="PlatformDatabases.Database"/> gives it).</param>
    /// <param name="wait">How long to let the sessions end by themselves; zero terminates at once.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <exception cref="ReplicationException">A terminated session did not exit.</exception>
    public static async Task<int> StopApplierAsync(string replicaConnectionString, TimeSpan wait, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(wait, TimeSpan.Zero);
        await using var connection = await OpenAsync(replicaConnectionString, writable: false, cancellationToken);
        var waited = Stopwatch.StartNew();
        while (await CountApplierSessionsAsync(connection, cancellationToken) > 0 && waited.Elapsed < wait)
        {
            await Task.Delay(PollInterval, cancellationToken);
        }

        await using var terminate = new NpgsqlCommand(
            $"SELECT s.pid, pg_terminate_backend(s.pid, {TerminateWaitMilliseconds.ToString(CultureInfo.InvariantCulture)}) FROM ({ApplierSessions}) s", connection);
        AddApplierParameters(terminate);
        var terminated = 0;
        var stuck = new List<int>();
        await using (var reader = await terminate.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                terminated++;
                if (!reader.GetBoolean(1))
                {
                    stuck.Add(reader.GetInt32(0));
                }
            }
        }

        if (stuck.Count > 0)
        {
            throw new ReplicationException(
                $"applier session(s) {string.Join(", ", stuck)} of replica '{connection.Database}' did not exit within {TerminateWaitMilliseconds / 1000} s of being terminated");
        }

        return terminated;
    }

    /// <summary>
    /// Reads the replica's position (one row per source; the shard's stream is the only one in practice: the newest is returned).
    /// Null when the replica has no <c>replication_progress</c> row.
    /// </summary>
    /// <param name="replicaConnectionString">The replica database (read-only access is enough).</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    public static async Task<ReplicaPosition?> ReadPositionAsync(string replicaConnectionString, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(replicaConnectionString, writable: false, cancellationToken);
        await using var command = new NpgsqlCommand("""
            SELECT source, position, source_commit_at, heard_position::text, heard_source_time, heard_at, applied_transactions, promoted_at
            FROM replication_progress ORDER BY greatest(applied_at, heard_at) DESC, source LIMIT 1
            """, connection);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            return null;
        }

        return new ReplicaPosition(
            reader.GetString(0),
            reader.IsDBNull(1) ? null : reader.GetString(1),
            Timestamp(reader, 2),
            reader.IsDBNull(3) ? null : reader.GetString(3),
            Timestamp(reader, 4),
            Timestamp(reader, 5),
            reader.IsDBNull(6) ? null : reader.GetInt64(6),
            Timestamp(reader, 7));
    }

    /// <summary>
    /// Pure: the RPO estimate from a position. What the standby can know is what reached it: every source transaction that ended
    /// before the last WAL end it heard was sent to it before that message, and the replicator applies all it received (also when
    /// the source breaks the stream). So when the heard position is past the applied one, the lost commits it heard of lie between
    /// the last applied commit and the last message: <see cref="RpoEstimate.Seconds"/> is the source-clock time between them and
    /// <see cref="RpoEstimate.Bytes"/> the WAL between them (the whole server's: an upper bound). When it is not past, the replica
    /// holds everything the source had reported and the estimate is 0. Neither sees commits the source made after its last message
    /// reached this region: under a steady load a few milliseconds; while the replicator lagged so far that it stopped reading (its
    /// queue full), the source's progress beyond what it read was not heard of either.
    /// </summary>
    /// <param name="position">The replica's position (<see cref="ReadPositionAsync"/>).</param>
    public static RpoEstimate Estimate(ReplicaPosition position)
    {
        ArgumentNullException.ThrowIfNull(position);
        if (position.HeardPosition is null || !Lsn.TryParse(position.HeardPosition, out var heard))
        {
            return new RpoEstimate(false, null, 0, null, Text(
                $"Stream {position.Source} recorded no source WAL position it heard of: Kafka (Debezium) streams do not, and a pgoutput replica records one from its first batch or keepalive after migration 0009. The loss cannot be estimated from the standby."));
        }

        if (!Lsn.TryParse(position.AppliedPosition, out var applied))
        {
            return new RpoEstimate(false, null, 0, null, Text(
                $"Stream {position.Source} stored the applied position '{position.AppliedPosition}', which is not an LSN: the loss cannot be estimated."));
        }

        var lastMessage = Text($"the last message from the source reported its WAL at {position.HeardPosition} at {position.HeardSourceTime:O} (source clock), heard here at {position.HeardAt:O}");
        if (heard <= applied)
        {
            return new RpoEstimate(true, 0, 0, 0, Text(
                $"Nothing heard past the applied position {position.AppliedPosition}: {lastMessage}, and every transaction the source had sent is applied. Commits after that message did not reach this region and are not counted."));
        }

        var bytes = heard - applied;
        if (position.AppliedCommitTime is not { } committed || position.HeardSourceTime is not { } said)
        {
            return new RpoEstimate(true, bytes, 0, null, Text(
                $"{bytes} WAL bytes heard past the applied position {position.AppliedPosition} ({lastMessage}), but no transaction was applied since the initial copy: the time span of the lost commits is not known."));
        }

        var seconds = Math.Max(0, (said - committed).TotalSeconds);
        return new RpoEstimate(true, bytes, seconds, null, Text(
            $"The last applied commit is from {committed:O} (source clock) at {position.AppliedPosition}; {lastMessage}: the lost commits the standby heard of lie in those {seconds:F3} s and {bytes} WAL bytes (the whole source server's WAL: an upper bound for this shard). How many transactions that is, the stream does not say; commits after the last message are not counted."));
    }

    /// <summary>
    /// Makes the replica the shard's owner database at <paramref name="epoch"/> for <paramref name="ownerRegion"/>: marks the
    /// progress row promoted (from then on no replication stream can write into it or make it read-only again), raises
    /// <c>shard_fence</c> (never lowers it), fixes what a promoted copy needs (sequences behind their columns: logical replication
    /// does not carry them), lifts the read-only guard last. All in one transaction: run again after a crash at any point, it
    /// finishes; run on a database already promoted at that epoch, it changes nothing. Returns whether it changed anything.
    /// </summary>
    /// <remarks>
    /// Sessions opened on the database before the guard was lifted keep their read-only default: reconnect them. The marking waits
    /// for an apply transaction in flight; call <see cref="StopApplierAsync"/> first.
    /// </remarks>
    /// <param name="replicaConnectionString">The replica database (as <see cref="PlatformDatabases.Database"/> gives it).</param>
    /// <param name="tenantId">The shard's tenant: must be the one its fence names.</param>
    /// <param name="homeRegion">The shard's home region: must be the one its fence names.</param>
    /// <param name="ownerRegion">The region that owns the shard from now on (the replica's region).</param>
    /// <param name="epoch">The new epoch (the directory's); the fence is raised to it, never lowered.</param>
    /// <param name="cancellationToken">Cancels the promotion (its transaction rolls back).</param>
    /// <exception cref="ReplicationException">
    /// The database is not a seeded replica, its fence names another shard, or the fence is already at a higher epoch, or at this
    /// one for another region.
    /// </exception>
    public static async Task<bool> PromoteAsync(string replicaConnectionString, string tenantId, string homeRegion, string ownerRegion, long epoch, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(tenantId);
        ArgumentException.ThrowIfNullOrWhiteSpace(homeRegion);
        ArgumentException.ThrowIfNullOrWhiteSpace(ownerRegion);
        ArgumentOutOfRangeException.ThrowIfLessThan(epoch, 1);
        await using var connection = await OpenAsync(replicaConnectionString, writable: true, cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var changed = await MarkPromotedAsync(connection, transaction, cancellationToken);
        changed |= await RaiseFenceAsync(connection, transaction, tenantId, homeRegion, ownerRegion, epoch, cancellationToken);
        changed |= await CatchUpSequencesAsync(connection, transaction, cancellationToken);
        changed |= await LiftGuardAsync(connection, transaction, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return changed;
    }

    private static Task<NpgsqlConnection> OpenAsync(string replicaConnectionString, bool writable, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(replicaConnectionString);
        // Not pooled: an operator tool leaves no idle session behind on a database it may drop or hand over.
        return PlatformDatabases.OpenUnpooledAsync(writable ? ReplicaGuard.WritableConnectionString(replicaConnectionString) : replicaConnectionString, cancellationToken);
    }

    private static async Task<long> CountApplierSessionsAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        await using var count = new NpgsqlCommand($"SELECT count(*) FROM ({ApplierSessions}) s", connection);
        AddApplierParameters(count);
        return (long)(await count.ExecuteScalarAsync(cancellationToken))!;
    }

    private static void AddApplierParameters(NpgsqlCommand command)
    {
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = ReplicaApplier.ApplicationName });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = ReplicaApplier.LockKey("") });
    }

    /// <summary>Marks every stream of the database promoted, after any apply transaction in flight (the lock waits for it).</summary>
    private static async Task<bool> MarkPromotedAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, CancellationToken cancellationToken)
    {
        await using (var streams = new NpgsqlCommand("LOCK TABLE replication_progress IN SHARE ROW EXCLUSIVE MODE; SELECT count(*) FROM replication_progress", connection, transaction))
        {
            if ((long)(await streams.ExecuteScalarAsync(cancellationToken))! == 0)
            {
                throw new ReplicationException(
                    $"database '{connection.Database}' holds no replication_progress row: it is not a seeded replica, and promoting it would lose the shard's data");
            }
        }

        await using var mark = new NpgsqlCommand("UPDATE replication_progress SET promoted_at = now() WHERE promoted_at IS NULL", connection, transaction);
        return await mark.ExecuteNonQueryAsync(cancellationToken) > 0;
    }

    private static async Task<bool> RaiseFenceAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string tenantId, string homeRegion, string ownerRegion, long epoch,
        CancellationToken cancellationToken)
    {
        string? fencedTenant = null, fencedHome = null, fencedOwner = null;
        long fencedEpoch = 0;
        await using (var read = new NpgsqlCommand("SELECT tenant_id, home_region, owner_region, epoch FROM shard_fence FOR UPDATE", connection, transaction))
        await using (var reader = await read.ExecuteReaderAsync(cancellationToken))
        {
            if (await reader.ReadAsync(cancellationToken))
            {
                (fencedTenant, fencedHome, fencedOwner, fencedEpoch) = (reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetInt64(3));
            }
        }

        var shard = $"{tenantId}@{homeRegion}";
        if (fencedTenant is not null && (fencedTenant != tenantId || fencedHome != homeRegion))
        {
            throw new ReplicationException($"database '{connection.Database}' holds the fence of shard {fencedTenant}@{fencedHome}, not {shard}");
        }

        if (fencedEpoch > epoch || (fencedEpoch == epoch && fencedOwner != ownerRegion))
        {
            throw new ReplicationException(Text(
                $"the fence of {shard} in '{connection.Database}' is at epoch {fencedEpoch} for region {fencedOwner}: a promotion to region {ownerRegion} at epoch {epoch} is stale"));
        }

        if (fencedEpoch == epoch)
        {
            return false;
        }

        await using var raise = new NpgsqlCommand(fencedTenant is null
            ? "INSERT INTO shard_fence (tenant_id, home_region, owner_region, epoch) VALUES ($1, $2, $3, $4)"
            : "UPDATE shard_fence SET owner_region = $3, epoch = $4, updated_at = now() WHERE tenant_id = $1 AND home_region = $2", connection, transaction);
        raise.Parameters.Add(new NpgsqlParameter<string> { TypedValue = tenantId });
        raise.Parameters.Add(new NpgsqlParameter<string> { TypedValue = homeRegion });
        raise.Parameters.Add(new NpgsqlParameter<string> { TypedValue = ownerRegion });
        raise.Parameters.Add(new NpgsqlParameter<long> { TypedValue = epoch });
        await raise.ExecuteNonQueryAsync(cancellationToken);
        return true;
    }

    /// <summary>
    /// Moves every sequence owned by a column (serial, identity) past the values its column holds. The tenant schema keys rows by
    /// UUIDv7 and has none (migration 0001); a table that had one would otherwise hand out ids the replica already holds, because
    /// logical replication copies rows, not sequences.
    /// </summary>
    private static async Task<bool> CatchUpSequencesAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, CancellationToken cancellationToken)
    {
        var owned = new List<(string Sequence, string Table, string Column, bool Ascending)>();
        await using (var list = new NpgsqlCommand("""
            SELECT format('%I.%I', sn.nspname, s.relname), format('%I.%I', tn.nspname, t.relname), quote_ident(a.attname), q.seqincrement > 0
            FROM pg_depend d
            JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'
            JOIN pg_sequence q ON q.seqrelid = s.oid
            JOIN pg_namespace sn ON sn.oid = s.relnamespace
            JOIN pg_class t ON t.oid = d.refobjid
            JOIN pg_namespace tn ON tn.oid = t.relnamespace
            JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid
            WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i') AND d.refobjsubid > 0
            ORDER BY 1
            """, connection, transaction))
        await using (var reader = await list.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                owned.Add((reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetBoolean(3)));
            }
        }

        var changed = false;
        foreach (var (sequence, table, column, ascending) in owned)
        {
            // The names come quoted from the catalog (format %I, quote_ident). setval(.., true): the next value is one step past.
            var literal = sequence.Replace("'", "''", StringComparison.Ordinal);
            var (extreme, reached) = ascending ? ("max", ">=") : ("min", "<=");
            await using var catchUp = new NpgsqlCommand($"""
                SELECT setval('{literal}', v.held, true) FROM (
                    SELECT (SELECT {extreme}({column})::bigint FROM {table}) AS held,
                           CASE WHEN q.is_called THEN q.last_value + p.seqincrement ELSE q.last_value END AS next_value
                    FROM {sequence} q, pg_sequence p WHERE p.seqrelid = '{literal}'::regclass) v
                WHERE v.held {reached} v.next_value
                """, connection, transaction);
            changed |= await catchUp.ExecuteScalarAsync(cancellationToken) is not null;
        }

        return changed;
    }

    /// <summary>Resets the database's read-only default (<see cref="ReplicaGuard"/>), the last step: sessions opened after the commit can write.</summary>
    private static async Task<bool> LiftGuardAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, CancellationToken cancellationToken)
    {
        await using (var guarded = new NpgsqlCommand("""
            SELECT EXISTS (
                SELECT 1 FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase, unnest(s.setconfig) c
                WHERE d.datname = current_database() AND s.setrole = 0 AND c LIKE 'default\_transaction\_read\_only=%')
            """, connection, transaction))
        {
            if (!(bool)(await guarded.ExecuteScalarAsync(cancellationToken))!)
            {
                return false;
            }
        }

        await using var lift = new NpgsqlCommand($"ALTER DATABASE {ShardDatabase.Quote(connection.Database)} RESET default_transaction_read_only", connection, transaction);
        await lift.ExecuteNonQueryAsync(cancellationToken);
        return true;
    }

    private static DateTimeOffset? Timestamp(NpgsqlDataReader reader, int ordinal) =>
        reader.IsDBNull(ordinal) ? null : new DateTimeOffset(reader.GetDateTime(ordinal), TimeSpan.Zero);

    private static string Text(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}

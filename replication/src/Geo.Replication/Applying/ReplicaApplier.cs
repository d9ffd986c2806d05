using Geo.Replication.Changes;
using Microsoft.Extensions.Logging;
using Npgsql;
using NpgsqlTypes;

namespace Geo.Replication.Applying;

/// <summary>What the replica stored as its position for one source.</summary>
/// <param name="Token">The source-specific position token.</param>
/// <param name="Lsn">The commit-ordered LSN in it (0 when it has none).</param>
/// <param name="SourceCommitAt">When the last applied transaction committed at the source.</param>
internal sealed record StoredPosition(string Token, ulong Lsn, DateTimeOffset? SourceCommitAt);

/// <summary>What one apply did.</summary>
/// <param name="Transactions">Source transactions applied.</param>
/// <param name="Changes">Row changes applied (a truncate counts once per table).</param>
/// <param name="Skipped">Transactions skipped because the replica already held them.</param>
/// <param name="MissingRows">Updates and deletes that found no row on the replica (a diverged replica).</param>
internal readonly record struct ApplyResult(int Transactions, int Changes, int Skipped, int MissingRows);

/// <summary>
/// Applies whole source transactions with their <c>replication_progress</c> row, so the replica is always a consistent
/// prefix that knows its position. Runs as <c>session_replication_role = replica</c>; an advisory lock per source serializes
/// appliers. Same-shape changes batch into one set-based statement: a group commit costs a few statements, not one per row.
/// With the position it records what the stream had heard of its source (<see cref="SourceHeard"/>) and counts the
/// transactions applied, for the data-loss estimate of a promotion; it refuses to write into a promoted replica.
/// </summary>
internal sealed partial class ReplicaApplier : IAsyncDisposable
{
    /// <summary>Batch commands per round trip: large enough to pipeline, small enough to bound memory.</summary>
    private const int CommandsPerRoundTrip = 512;

    /// <summary>The <c>application_name</c> of the applier's sessions: how a promotion finds them (<c>pg_stat_activity</c>).</summary>
    public const string ApplicationName = "geo-replicator applier";

    /// <summary>The key of the session advisory lock an applier holds for its stream, hashed by <c>hashtextextended</c>.</summary>
    public static string LockKey(string sourceName) => "geo-applier:" + sourceName;

    private readonly NpgsqlConnection _connection;
    private readonly string _sourceName;
    private readonly ILogger _logger;
    private readonly Dictionary<ChangeTable, TableBinding> _bindings = new(ReferenceEqualityComparer.Instance);
    private readonly Dictionary<(string, string), ReplicaTable> _tables = [];
    private SourceHeard? _heardWritten;

    private ReplicaApplier(NpgsqlConnection connection, string sourceName, ILogger logger)
    {
        _connection = connection;
        _sourceName = sourceName;
        _logger = logger;
    }

    /// <summary>The position the replica holds; null before the initial sync.</summary>
    public StoredPosition? Stored { get; private set; }

    /// <summary>The applier's own connection (the initial sync writes through it, under the same lock).</summary>
    internal NpgsqlConnection Connection => _connection;

    /// <summary>
    /// The applier's session settings. Replica role: the source already checked foreign keys and ran its triggers.
    /// Read-write: the replica database defaults to read-only for everyone else (see <see cref="ReplicaGuard"/>).
    /// </summary>
    public static string SessionConnectionString(string replicaConnectionString)
    {
        var builder = new NpgsqlConnectionStringBuilder(replicaConnectionString)
        {
            ApplicationName = ApplicationName,
            Pooling = false,
            MaxAutoPrepare = 64,
            AutoPrepareMinUsages = 2,
            CommandTimeout = 0,
        };
        builder.Options = $"{builder.Options} -c session_replication_role=replica -c default_transaction_read_only=off".Trim();
        return builder.ConnectionString;
    }

    public static async Task<ReplicaApplier> OpenAsync(string replicaConnectionString, string sourceName, ILogger logger, CancellationToken cancellationToken)
    {
        var connection = new NpgsqlConnection(SessionConnectionString(replicaConnectionString));
        try
        {
            await connection.OpenAsync(cancellationToken);
            await using (var tryLock = new NpgsqlCommand("SELECT pg_try_advisory_lock(hashtextextended(@source, 0))", connection))
            {
                tryLock.Parameters.AddWithValue("source", LockKey(sourceName));
                if (!(bool)(await tryLock.ExecuteScalarAsync(cancellationToken))!)
                {
                    throw new ReplicationException($"another applier is writing stream '{sourceName}' into replica '{connection.Database}'");
                }
            }

            // Checked here so that a stale stream fails before it seeds or reads; the trigger of migration 0009 refuses
            // the progress of a batch applied after a promotion that happens while the stream runs.
            if (await PromotedMark.ReadAsync(connection, null, lockShared: false, cancellationToken) is { } promotedAt)
            {
                throw PromotedMark.Refusal(connection.Database, promotedAt, sourceName);
            }

            var applier = new ReplicaApplier(connection, sourceName, logger);
            applier.Stored = await ReadPositionAsync(connection, sourceName, cancellationToken);
            return applier;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    /// <summary>Reads the replica's stored position for a stream; null when it has none.</summary>
    public static async Task<StoredPosition?> ReadPositionAsync(NpgsqlConnection connection, string sourceName, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("SELECT position, source_commit_at FROM replication_progress WHERE source = @source", connection);
        command.Parameters.AddWithValue("source", sourceName);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            return null;
        }

        var token = reader.GetString(0);
        DateTimeOffset? commitAt = reader.IsDBNull(1) ? null : new DateTimeOffset(reader.GetDateTime(1), TimeSpan.Zero);
        return new StoredPosition(token, PositionTokens.LsnOf(token), commitAt);
    }

    /// <summary>
    /// Applies consecutive whole source transactions in one replica transaction, with the last one's position and what the
    /// stream had heard (<paramref name="heard"/>, taken after the batch was read from the queue; null for Kafka).
    /// Transactions the replica already holds (at or below its stored LSN) are skipped: replay is idempotent.
    /// </summary>
    public async Task<ApplyResult> ApplyAsync(IReadOnlyList<ChangeTransaction> transactions, SourceHeard? heard, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(transactions);
        var storedLsn = Stored?.Lsn ?? 0;
        ChangeTransaction? last = null;
        SourcePosition position;
        int applied = 0, changes = 0, skipped = 0, missing = 0;

        await using var transaction = await _connection.BeginTransactionAsync(cancellationToken);
        var batch = new NpgsqlBatch(_connection, transaction);
        var checkedCommands = new List<(NpgsqlBatchCommand Command, int Rows)>();
        var group = new RowGroup();
        try
        {
            async Task FlushGroupAsync()
            {
                if (group.Events.Count > 0)
                {
                    var (command, isChecked) = await GroupCommandAsync(group, transaction, cancellationToken);
                    batch.BatchCommands.Add(command);
                    if (isChecked)
                    {
                        checkedCommands.Add((command, group.Events.Count));
                    }

                    group.Clear();
                }

                if (batch.BatchCommands.Count >= CommandsPerRoundTrip)
                {
                    missing += await ExecuteAsync(batch, checkedCommands, cancellationToken);
                    await batch.DisposeAsync();
                    batch = new NpgsqlBatch(_connection, transaction);
                }
            }

            foreach (var source in transactions)
            {
                if (source.Position.Lsn != 0 && source.Position.Lsn <= storedLsn)
                {
                    skipped++;
                    continue;
                }

                var events = source.Events;
                for (var i = 0; i < events.Count; i++)
                {
                    if (events[i].Op == ChangeOperation.Truncate)
                    {
                        await FlushGroupAsync();

                        // Tables truncated together stay together: foreign keys among them need one statement.
                        var end = i;
                        while (end + 1 < events.Count && events[end + 1].Op == ChangeOperation.Truncate)
                        {
                            end++;
                        }

                        batch.BatchCommands.Add(await TruncateCommandAsync(events, i, end, transaction, cancellationToken));
                        changes += end - i + 1;
                        i = end;
                        continue;
                    }

                    // Consecutive changes of one shape go out as one set-based statement, in source order.
                    var binding = await BindingAsync(events[i].Table, transaction, cancellationToken);
                    if (!group.TryAdd(binding, events[i]))
                    {
                        await FlushGroupAsync();
                        if (!group.TryAdd(binding, events[i]))
                        {
                            throw new ReplicationException($"{events[i].Table}: cannot apply {events[i].Op} as a row change");
                        }
                    }

                    changes++;
                }

                applied++;
                last = source;
            }

            if (last is null)
            {
                return new ApplyResult(0, 0, skipped, 0);
            }

            await FlushGroupAsync();
            position = CoveredPosition(Math.Max(storedLsn, last.Position.Lsn), heard) ?? last.Position;
            batch.BatchCommands.Add(ProgressCommand(position, last.CommitTime, applied, heard));
            missing += await ExecuteAsync(batch, checkedCommands, cancellationToken);
            await transaction.CommitAsync(cancellationToken);
        }
        finally
        {
            await batch.DisposeAsync();
        }

        Stored = new StoredPosition(position.Token, Math.Max(storedLsn, position.Lsn), last.CommitTime);
        _heardWritten = heard;
        if (missing > 0)
        {
            LogMissingRows(_logger, _sourceName, missing, last.Position.Token);
        }

        return new ApplyResult(applied, changes, skipped, missing);
    }

    /// <summary>
    /// The upsert of this stream's <c>replication_progress</c> row, to run in the transaction that applied up to it:
    /// <paramref name="appliedTransactions"/> more applied, and what the stream had heard (null for Kafka).
    /// </summary>
    internal NpgsqlBatchCommand ProgressCommand(SourcePosition position, DateTimeOffset? commitTime, int appliedTransactions, SourceHeard? heard)
    {
        var command = new NpgsqlBatchCommand("""
            INSERT INTO replication_progress (source, position, source_commit_at, applied_at, applied_transactions, heard_position, heard_source_time, heard_at)
            VALUES ($1, $2, $3, now(), $4, $5, $6, $7)
            ON CONFLICT (source) DO UPDATE SET position = excluded.position, source_commit_at = excluded.source_commit_at, applied_at = excluded.applied_at,
                applied_transactions = coalesce(replication_progress.applied_transactions, 0) + excluded.applied_transactions,
                heard_position = excluded.heard_position, heard_source_time = excluded.heard_source_time, heard_at = excluded.heard_at
            """);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = _sourceName });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = position.Token });
        command.Parameters.Add(Timestamp(commitTime));
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = appliedTransactions });
        AddHeard(command.Parameters, heard);
        return command;
    }

    /// <summary>
    /// Records what the stream heard while nothing is applied (a keepalive moved the source's WAL end): false when that is
    /// what the row holds already. When everything handed out is applied, the stored position moves to the point through
    /// which the replica is complete (<see cref="SourceHeard.CompleteThrough"/>), its commit time staying the last applied one.
    /// </summary>
    public async Task<bool> RecordHeardAsync(SourceHeard heard, CancellationToken cancellationToken)
    {
        if (Stored is not { } stored)
        {
            return false;
        }

        var covered = CoveredPosition(stored.Lsn, heard);
        if (covered is null && _heardWritten is { } written && written.Position == heard.Position)
        {
            return false;
        }

        await using var command = new NpgsqlCommand("""
            UPDATE replication_progress SET heard_position = $2, heard_source_time = $3, heard_at = $4, position = coalesce($5, position)
            WHERE source = $1
            """, _connection);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = _sourceName });
        AddHeard(command.Parameters, heard);
        command.Parameters.Add(covered is { } to
            ? new NpgsqlParameter<string> { TypedValue = to.Token }
            : new NpgsqlParameter { Value = DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        await command.ExecuteNonQueryAsync(cancellationToken);
        if (covered is { } advanced)
        {
            Stored = stored with { Token = advanced.Token, Lsn = advanced.Lsn };
        }

        _heardWritten = heard;
        return true;
    }

    /// <summary>
    /// The position through which the replica holds every source transaction once it applied through <paramref name="appliedLsn"/>:
    /// beyond it when the stream had handed out nothing more and heard the source's WAL further; null when not beyond.
    /// </summary>
    private static SourcePosition? CoveredPosition(ulong appliedLsn, SourceHeard? heard) =>
        heard is { } h && appliedLsn >= h.LastYielded && h.CompleteThrough > appliedLsn
            ? new SourcePosition(h.CompleteThrough, Lsn.Format(h.CompleteThrough))
            : null;

    private static void AddHeard(NpgsqlParameterCollection parameters, SourceHeard? heard)
    {
        parameters.Add(heard is { } h
            ? new NpgsqlParameter<NpgsqlLogSequenceNumber> { TypedValue = new NpgsqlLogSequenceNumber(h.Position), NpgsqlDbType = NpgsqlDbType.PgLsn }
            : new NpgsqlParameter { Value = DBNull.Value, NpgsqlDbType = NpgsqlDbType.PgLsn });
        parameters.Add(Timestamp(heard?.SourceTime));
        parameters.Add(Timestamp(heard?.At));
    }

    private static NpgsqlParameter Timestamp(DateTimeOffset? value) => value is { } time
        ? new NpgsqlParameter<DateTime> { TypedValue = time.UtcDateTime, NpgsqlDbType = NpgsqlDbType.TimestampTz }
        : new NpgsqlParameter { Value = DBNull.Value, NpgsqlDbType = NpgsqlDbType.TimestampTz };

    /// <summary>Marks the stored position after an initial sync committed it.</summary>
    internal void SetStored(StoredPosition position) => Stored = position;

    public ValueTask DisposeAsync() => _connection.DisposeAsync();

    private static async Task<int> ExecuteAsync(NpgsqlBatch batch, List<(NpgsqlBatchCommand Command, int Rows)> checkedCommands, CancellationToken cancellationToken)
    {
        if (batch.BatchCommands.Count == 0)
        {
            return 0;
        }

        await batch.ExecuteNonQueryAsync(cancellationToken);
        var missing = 0;
        foreach (var (command, rows) in checkedCommands)
        {
            missing += Math.Max(0, rows - checked((int)command.RecordsAffected));
        }

        checkedCommands.Clear();
        return missing;
    }

    /// <summary>
    /// The statement for a group of changes: the prepared single-row statement for one change, else the set-based
    /// one with each column as a text array. Also whether its affected-row count must match (updates, deletes).
    /// </summary>
    private async Task<(NpgsqlBatchCommand Command, bool Checked)> GroupCommandAsync(RowGroup group, NpgsqlTransaction transaction, CancellationToken cancellationToken)
    {
        var first = group.Events[0];
        var isChecked = first.Op is ChangeOperation.Update or ChangeOperation.Delete;
        if (group.Events.Count == 1)
        {
            return (await RowCommandAsync(first, transaction, cancellationToken), isChecked);
        }

        var binding = group.Binding!;
        var command = new NpgsqlBatchCommand(binding.SetStatement(group.Op, group.Mask, group.KeyFromBefore));
        if (group.Op != 'd')
        {
            for (var column = 0; column < binding.Source.Columns.Count; column++)
            {
                if ((group.Mask & (UInt128.One << column)) != 0)
                {
                    command.Parameters.Add(TextArray(group.Events, e => e.After![column]));
                }
            }
        }

        if (group.Op != 'c')
        {
            foreach (var position in binding.KeyPositions)
            {
                command.Parameters.Add(TextArray(group.Events, e => (group.KeyFromBefore ? e.Before! : e.After!)[position]));
            }
        }

        return (command, isChecked);
    }

    private static NpgsqlParameter TextArray(List<ChangeEvent> events, Func<ChangeEvent, ColumnValue> value)
    {
        var values = new string?[events.Count];
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = value(events[i]).Text;
        }

        return new NpgsqlParameter { Value = values, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text };
    }

    /// <summary>
    /// Consecutive row changes of one table, operation and column set, with distinct keys: they can be applied by
    /// one statement with the same result as one by one, because no two of them touch the same row.
    /// </summary>
    private sealed class RowGroup
    {
        private const int MaxRows = 1000;

        private readonly HashSet<string> _keys = new(StringComparer.Ordinal);

        public List<ChangeEvent> Events { get; } = [];

        public TableBinding? Binding { get; private set; }

        public char Op { get; private set; }

        public UInt128 Mask { get; private set; }

        public bool KeyFromBefore { get; private set; }

        /// <summary>Adds the change when it has the group's shape and a key not yet in it; false otherwise (flush and retry).</summary>
        public bool TryAdd(TableBinding binding, ChangeEvent change)
        {
            var op = change.Op switch
            {
                ChangeOperation.Create or ChangeOperation.Read => 'c',
                ChangeOperation.Update => 'u',
                ChangeOperation.Delete => 'd',
                _ => throw new ReplicationException($"{change.Table}: cannot apply {change.Op} as a row change"),
            };
            var keyFromBefore = op == 'd' || (op == 'u' && change.Before is not null);
            var row = op == 'd' ? null : change.After ?? throw new ReplicationException($"{change.Table}: {change.Op} without a row");
            var keyRow = keyFromBefore ? change.Before ?? throw new ReplicationException($"{change.Table}: delete without the old key") : row!;
            var mask = row is null ? 0 : MaskOf(row);
            if (Events.Count > 0 && (Events.Count >= MaxRows || !ReferenceEquals(binding, Binding) || op != Op || mask != Mask || keyFromBefore != KeyFromBefore))
            {
                return false;
            }

            if (Events.Count == 0)
            {
                (Binding, Op, Mask, KeyFromBefore) = (binding, op, mask, keyFromBefore);
                _keys.Clear();
            }

            if (op != 'c')
            {
                var key = KeyOf(binding, keyRow, change.Table);
                if (!_keys.Add(key))
                {
                    return false;
                }

                // A key-changing update also claims its new key: a later change of the group that finds the row by it
                // would run against the statement's starting snapshot, where that key does not exist yet.
                if (keyFromBefore && op == 'u' && TryKeyOf(binding, row!) is { } newKey && newKey != key && !_keys.Add(newKey))
                {
                    return false;
                }
            }

            Events.Add(change);
            return true;
        }

        public void Clear()
        {
            Events.Clear();
            _keys.Clear();
            Binding = null;
        }

        private static UInt128 MaskOf(IReadOnlyList<ColumnValue> row)
        {
            UInt128 mask = 0;
            for (var i = 0; i < row.Count; i++)
            {
                if (row[i].Kind != ColumnValueKind.Unchanged)
                {
                    mask |= UInt128.One << i;
                }
            }

            return mask;
        }

        private static string? TryKeyOf(TableBinding binding, IReadOnlyList<ColumnValue> row)
        {
            var key = new System.Text.StringBuilder();
            foreach (var position in binding.KeyPositions)
            {
                if (position < 0 || position >= row.Count || row[position].Kind != ColumnValueKind.Text)
                {
                    return null;
                }

                key.Append(row[position].Text).Append('\0');
            }

            return key.ToString();
        }

        private static string KeyOf(TableBinding binding, IReadOnlyList<ColumnValue> row, ChangeTable table)
        {
            if (binding.KeyPositions.Length == 0)
            {
                throw new ReplicationException($"{table}: the replica table has no primary key, so updates and deletes cannot find their row");
            }

            return TryKeyOf(binding, row) ?? throw new ReplicationException($"{table}: the change does not carry the primary key");
        }
    }

    private async Task<NpgsqlBatchCommand> RowCommandAsync(ChangeEvent change, NpgsqlTransaction transaction, CancellationToken cancellationToken)
    {
        var binding = await BindingAsync(change.Table, transaction, cancellationToken);
        var command = new NpgsqlBatchCommand();
        switch (change.Op)
        {
            case ChangeOperation.Create or ChangeOperation.Read:
            {
                var after = change.After ?? throw new ReplicationException($"{change.Table}: insert without a row");
                var mask = AddValues(command, after);
                command.CommandText = binding.Statement('c', mask, false);
                break;
            }

            case ChangeOperation.Update:
            {
                var after = change.After ?? throw new ReplicationException($"{change.Table}: update without a new row");
                var keyFromBefore = change.Before is not null;
                var mask = AddValues(command, after);
                AddKey(command, binding, keyFromBefore ? change.Before! : after, change.Table);
                command.CommandText = binding.Statement('u', mask, keyFromBefore);
                break;
            }

            case ChangeOperation.Delete:
                AddKey(command, binding, change.Before ?? throw new ReplicationException($"{change.Table}: delete without the old key"), change.Table);
                command.CommandText = binding.Statement('d', 0, true);
                break;

            default:
                throw new ReplicationException($"{change.Table}: cannot apply {change.Op} as a row change");
        }

        return command;
    }

    private static UInt128 AddValues(NpgsqlBatchCommand command, IReadOnlyList<ColumnValue> row)
    {
        UInt128 mask = 0;
        for (var i = 0; i < row.Count; i++)
        {
            var value = row[i];
            if (value.Kind == ColumnValueKind.Unchanged)
            {
                // Not sent by the source: the replica keeps the value it already holds.
                continue;
            }

            mask |= UInt128.One << i;
            command.Parameters.Add(Parameter(value));
        }

        return mask;
    }

    private static void AddKey(NpgsqlBatchCommand command, TableBinding binding, IReadOnlyList<ColumnValue> row, ChangeTable table)
    {
        if (binding.KeyPositions.Length == 0)
        {
            throw new ReplicationException($"{table}: the replica table has no primary key, so updates and deletes cannot find their row");
        }

        foreach (var position in binding.KeyPositions)
        {
            if (position < 0 || position >= row.Count || row[position].Kind != ColumnValueKind.Text)
            {
                throw new ReplicationException($"{table}: the change does not carry the primary key");
            }

            command.Parameters.Add(Parameter(row[position]));
        }
    }

    private static NpgsqlParameter Parameter(ColumnValue value) => value.Kind == ColumnValueKind.Null
        ? new NpgsqlParameter { Value = DBNull.Value, NpgsqlDbType = NpgsqlDbType.Unknown }
        : new NpgsqlParameter { Value = value.Text, NpgsqlDbType = NpgsqlDbType.Unknown };

    private async Task<NpgsqlBatchCommand> TruncateCommandAsync(IReadOnlyList<ChangeEvent> events, int first, int last, NpgsqlTransaction transaction, CancellationToken cancellationToken)
    {
        var names = new List<string>();
        var cascade = false;
        for (var i = first; i <= last; i++)
        {
            var binding = await BindingAsync(events[i].Table, transaction, cancellationToken);
            names.Add(binding.Replica.Quoted);
            cascade |= events[i].Cascade;
        }

        // Names come from the replica's catalog, quoted; TRUNCATE takes no parameters.
        return new NpgsqlBatchCommand($"TRUNCATE ONLY {string.Join(", ", names.Distinct(StringComparer.Ordinal))}{(cascade ? " CASCADE" : "")}");
    }

    private async Task<TableBinding> BindingAsync(ChangeTable table, NpgsqlTransaction transaction, CancellationToken cancellationToken)
    {
        if (_bindings.TryGetValue(table, out var binding))
        {
            return binding;
        }

        if (_tables.TryGetValue((table.Schema, table.Name), out var cached))
        {
            try
            {
                binding = new TableBinding(table, cached);
                _bindings[table] = binding;
                return binding;
            }
            catch (ReplicationException)
            {
                // The source sent a new shape (a migration added a column): read the replica's shape again below.
            }
        }

        var replica = await ReplicaTable.LoadAsync(_connection, transaction, table.Schema, table.Name, cancellationToken)
            ?? throw new ReplicationException($"table {table} does not exist in replica '{_connection.Database}' (apply the tenant migrations to it)");
        _tables[(table.Schema, table.Name)] = replica;
        binding = new TableBinding(table, replica);
        _bindings[table] = binding;
        return binding;
    }

    [LoggerMessage(EventId = 4101, Level = LogLevel.Warning, Message = "Stream {Source}: {Count} updates or deletes found no row on the replica (applied up to {Position}); the replica has diverged, run geoctl verify")]
    private static partial void LogMissingRows(ILogger logger, string source, int count, string position);
}

/// <summary>Reads the commit-ordered LSN out of a stored position token.</summary>
internal static class PositionTokens
{
    public static ulong LsnOf(string token)
    {
        if (Lsn.TryParse(token, out var lsn))
        {
            return lsn;
        }

        return Kafka.KafkaPosition.TryParse(token, out var position) ? position.Lsn : 0;
    }
}

using System.Buffers;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.RegularExpressions;
using Geo.Replication.Changes;
using Microsoft.Extensions.Logging;
using Npgsql;
using Npgsql.Replication;
using Npgsql.Replication.PgOutput;
using Npgsql.Replication.PgOutput.Messages;
using NpgsqlTypes;

namespace Geo.Replication.PgOutput;

/// <summary>
/// PostgreSQL logical decoding with pgoutput (text mode) through Npgsql's replication API. Owns the shard's
/// publication and slot: creates them, and with no stored position (a new standby) recreates the slot with an
/// exported snapshot for the initial sync. Assembles Begin..Commit into whole <see cref="ChangeTransaction"/>s, and keeps
/// what it heard of the source's WAL (<see cref="Heard"/>) for the data-loss estimate of a promotion.
/// </summary>
internal sealed partial class PgOutputSource : IChangeSource, IHeardSource
{
    private readonly string _connectionString;
    private readonly string _slotName;
    private readonly string _publication;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Dictionary<uint, ChangeTable> _relations = [];
    private readonly Lock _gate = new();
    private LogicalReplicationConnection? _connection;

    /// <summary>The source server's process serving this stream (its walsender), once open.</summary>
    private int? _walSenderPid;

    /// <summary>
    /// The stream's <c>application_name</c> at the source: with the process id, names its walsender and no other. At most
    /// 63 characters (ASCII), as the server keeps it.
    /// </summary>
    private string StreamApplicationName
    {
        get
        {
            var name = $"geo-replicator {_slotName}";
            return name.Length > 63 ? name[..63] : name;
        }
    }

    private ulong _startLsn;
    private string _database = "";

    // Guarded by _gate: what was handed out and what was acknowledged, for the idle acknowledgement.
    private bool _inTransaction;
    private ulong _lastYieldedLsn;
    private ulong _acknowledgedLsn;

    // Guarded by _gate: the highest WAL end heard, the source clock and local time of it, and the last change's clock.
    private ulong _heardPosition;
    private DateTimeOffset _heardSourceTime;
    private DateTimeOffset _heardAt;
    private DateTimeOffset? _lastServerClock;
    private DateTimeOffset _lastServerClockAt;

    public PgOutputSource(string connectionString, string slotName, string publication, ILogger logger, TimeProvider? time = null)
    {
        _connectionString = connectionString;
        _slotName = SqlIdentifier.RequireSimpleName(slotName, "slot name");
        _publication = SqlIdentifier.RequireSimpleName(publication, "publication");
        _logger = logger;
        _time = time ?? TimeProvider.System;
    }

    public string Name => $"pgoutput:{_slotName}";

    public ulong ConfirmedLsn
    {
        get
        {
            lock (_gate)
            {
                return _acknowledgedLsn;
            }
        }
    }

    /// <summary>How often an idle, caught-up stream confirms the server's WAL end (so an idle slot does not hold WAL).</summary>
    internal TimeSpan IdleAcknowledgeInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Whether an idle, caught-up stream confirms the server's WAL end by itself. Off for a reader that must leave the slot
    /// where it is (a rejoin decoding a lost owner's tail, which it may have to read again).
    /// </summary>
    internal bool ConfirmsWhileIdle { get; init; } = true;

    /// <summary>
    /// With nothing received for half of this, Npgsql asks the server for a keepalive; with nothing for all of it, the stream
    /// is broken. PostgreSQL's default (60 s) would leave a silent source unnoticed for a minute.
    /// </summary>
    internal static TimeSpan ReceiverTimeout { get; } = TimeSpan.FromSeconds(10);

    public SourceHeard? Heard
    {
        get
        {
            var connection = _connection;
            if (connection is null)
            {
                return null;
            }

            // Read before the gate: every transaction ending at or before a WAL end the server reported was sent before that
            // report, so when the reader is between transactions it has handed all of them out (see CompleteThrough).
            var received = (ulong)connection.LastReceivedLsn;
            lock (_gate)
            {
                if (received > _heardPosition)
                {
                    // Reported by a keepalive, whose clock Npgsql keeps to itself: extrapolate from the last change's.
                    var now = _time.GetUtcNow();
                    _heardSourceTime = _lastServerClock is { } clock ? clock + (now - _lastServerClockAt) : now;
                    _heardPosition = received;
                    _heardAt = now;
                }

                if (_heardPosition == 0)
                {
                    return null;
                }

                var complete = _inTransaction ? _lastYieldedLsn : Math.Max(received, _lastYieldedLsn);
                return new SourceHeard(_heardPosition, _heardSourceTime, _heardAt, _lastYieldedLsn, complete);
            }
        }
    }

    public async Task<SourceSnapshot?> OpenAsync(string? storedPosition, CancellationToken cancellationToken)
    {
        await ReplicationSlots.EnsurePublicationAsync(_connectionString, _publication, cancellationToken);
        var connection = new LogicalReplicationConnection(new NpgsqlConnectionStringBuilder(_connectionString) { ApplicationName = StreamApplicationName }.ConnectionString)
        {
            WalReceiverStatusInterval = TimeSpan.FromSeconds(1),
            WalReceiverTimeout = ReceiverTimeout,
        };
        _connection = connection;
        await connection.Open(cancellationToken);
        _walSenderPid = connection.ProcessID;
        _database = new NpgsqlConnectionStringBuilder(_connectionString).Database ?? "";

        if (storedPosition is not null)
        {
            if (!Lsn.TryParse(storedPosition, out _startLsn))
            {
                throw new ReplicationException($"{Name}: the replica's stored position '{storedPosition}' is not an LSN");
            }

            if (!await ReplicationSlots.SlotExistsAsync(_connectionString, _slotName, cancellationToken))
            {
                throw new ReplicationException(
                    $"{Name}: the replica stands at {storedPosition} but the source has no slot '{_slotName}': changes after that point are gone. " +
                    "Seed the replica again (delete its replication_progress row for this source and restart).");
            }

            lock (_gate)
            {
                _acknowledgedLsn = _startLsn;
            }

            LogResuming(_logger, _slotName, storedPosition);
            return null;
        }

        // A new standby: a slot of this name belongs to an earlier, unfinished seeding and is not consistent with this replica.
        if (await ReplicationSlots.SlotExistsAsync(_connectionString, _slotName, cancellationToken))
        {
            LogDroppingStaleSlot(_logger, _slotName);
            await ReplicationSlots.DropAsync(_connectionString, _slotName, publication: null, cancellationToken);
        }

        var slot = await connection.CreatePgOutputReplicationSlot(_slotName, temporarySlot: false, slotSnapshotInitMode: LogicalSlotSnapshotInitMode.Export, cancellationToken: cancellationToken);
        _startLsn = (ulong)slot.ConsistentPoint;
        var snapshotName = slot.SnapshotName ?? throw new ReplicationException($"{Name}: the server exported no snapshot");
        LogSlotCreated(_logger, _slotName, slot.ConsistentPoint, snapshotName);
        return new SourceSnapshot(_connectionString, snapshotName, new SourcePosition(_startLsn, Lsn.Format(_startLsn)));
    }

    public async IAsyncEnumerable<ChangeTransaction> ReadAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var connection = _connection ?? throw new InvalidOperationException("OpenAsync first");
        var options = new PgOutputReplicationOptions(_publication, PgOutputProtocolVersion.V1, binary: false, messages: true);
        using var idleAcknowledger = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var idleTask = ConfirmsWhileIdle ? AcknowledgeWhileIdleAsync(connection, idleAcknowledger.Token) : Task.CompletedTask;
        try
        {
            List<ChangeEvent>? events = null;
            long txId = -1;
            ulong commitLsn = 0;
            var commitTime = DateTimeOffset.MinValue;
            await foreach (var message in connection.StartReplication(new PgOutputReplicationSlot(_slotName), options, cancellationToken, new NpgsqlLogSequenceNumber(_startLsn)))
            {
                NoteHeard((ulong)message.WalEnd, message.ServerClock);
                switch (message)
                {
                    case BeginMessage begin:
                        lock (_gate)
                        {
                            _inTransaction = true;
                        }

                        events = [];
                        txId = begin.TransactionXid;
                        commitLsn = (ulong)begin.TransactionFinalLsn;
                        commitTime = new DateTimeOffset(DateTime.SpecifyKind(begin.TransactionCommitTimestamp, DateTimeKind.Utc));
                        break;

                    case RelationMessage relation:
                        _relations[relation.RelationId] = ToTable(relation);
                        break;

                    case InsertMessage insert:
                    {
                        var table = _relations[insert.Relation.RelationId];
                        var after = await ReadRowAsync(insert.NewRow, table, cancellationToken);
                        Require(events).Add(new ChangeEvent(ChangeOperation.Create, table, null, after, Source(table, commitLsn, txId, commitTime)));
                        break;
                    }

                    case UpdateMessage update:
                    {
                        var table = _relations[update.Relation.RelationId];
                        ColumnValue[]? before = update switch
                        {
                            IndexUpdateMessage keyChanged => await ReadRowAsync(keyChanged.Key, table, cancellationToken),
                            FullUpdateMessage full => await ReadRowAsync(full.OldRow, table, cancellationToken),
                            _ => null,
                        };
                        var after = await ReadRowAsync(update.NewRow, table, cancellationToken);
                        Require(events).Add(new ChangeEvent(ChangeOperation.Update, table, before, after, Source(table, commitLsn, txId, commitTime)));
                        break;
                    }

                    case DeleteMessage delete:
                    {
                        var table = _relations[delete.Relation.RelationId];
                        var before = delete switch
                        {
                            KeyDeleteMessage key => await ReadRowAsync(key.Key, table, cancellationToken),
                            FullDeleteMessage full => await ReadRowAsync(full.OldRow, table, cancellationToken),
                            _ => throw new ReplicationException($"{Name}: unexpected delete message {delete.GetType().Name}"),
                        };
                        Require(events).Add(new ChangeEvent(ChangeOperation.Delete, table, before, null, Source(table, commitLsn, txId, commitTime)));
                        break;
                    }

                    case TruncateMessage truncate:
                    {
                        var cascade = (truncate.Options & TruncateMessage.TruncateOptions.Cascade) != 0;
                        foreach (var relation in truncate.Relations)
                        {
                            var table = _relations.TryGetValue(relation.RelationId, out var known) ? known : ToTable(relation);
                            Require(events).Add(new ChangeEvent(ChangeOperation.Truncate, table, null, null, Source(table, commitLsn, txId, commitTime)) { Cascade = cascade });
                        }

                        break;
                    }

                    case CommitMessage commit:
                    {
                        var end = (ulong)commit.TransactionEndLsn;
                        var transaction = new ChangeTransaction(
                            $"{txId}:{(ulong)commit.CommitLsn}", txId, new SourcePosition(end, Lsn.Format(end)),
                            new DateTimeOffset(DateTime.SpecifyKind(commit.TransactionCommitTimestamp, DateTimeKind.Utc)), Require(events));
                        events = null;
                        lock (_gate)
                        {
                            _inTransaction = false;
                            _lastYieldedLsn = end;
                        }

                        yield return transaction;
                        break;
                    }

                    // Type, Origin and logical decoding messages carry nothing to apply; a transaction holding only a
                    // message still commits, so the replica's position moves past it.
                    default:
                        break;
                }
            }
        }
        finally
        {
            await idleAcknowledger.CancelAsync();
            await idleTask;
        }
    }

    public ValueTask AcknowledgeAsync(SourcePosition position, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (position.Lsn <= _acknowledgedLsn)
            {
                return ValueTask.CompletedTask;
            }

            _acknowledgedLsn = position.Lsn;
        }

        // Sent with the next status update (every WalReceiverStatusInterval, or when the server asks).
        _connection?.SetReplicationStatus(new NpgsqlLogSequenceNumber(position.Lsn));
        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// Asks the source's server to end this stream's replication session (a stopping stream whose read ignored the
    /// cancellation): the read then fails through Npgsql's own path. Best effort, bounded: an unreachable source ends the
    /// read by itself within the receiver timeout.
    /// </summary>
    internal async Task EndServerSessionAsync(ILogger logger)
    {
        using var timeout = new CancellationTokenSource(EndSessionTimeout);
        try
        {
            await ReplicationSlots.EndSessionAsync(_connectionString, _slotName, _walSenderPid is { } pid ? (pid, StreamApplicationName) : null, timeout.Token);
        }
        catch (Exception ex) when (ex is NpgsqlException or OperationCanceledException or TimeoutException)
        {
            LogEndSessionFailed(logger, _slotName, ex.Message);
        }
    }

    private static readonly TimeSpan EndSessionTimeout = TimeSpan.FromSeconds(3);

    public async ValueTask DisposeAsync()
    {
        if (_connection is not null)
        {
            await _connection.DisposeAsync();
            _connection = null;
        }
    }

    /// <summary>Validates an exported snapshot name before it is spliced into <c>SET TRANSACTION SNAPSHOT</c> (no parameters there).</summary>
    internal static bool IsSnapshotName(string name) => SnapshotNamePattern().IsMatch(name);

    private async Task AcknowledgeWhileIdleAsync(LogicalReplicationConnection connection, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(IdleAcknowledgeInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                // Caught up and between transactions: every commit before the server's last reported WAL end is applied,
                // so confirming that end is safe, and keeps an idle shard's slot from pinning the cluster's WAL.
                ulong received = (ulong)connection.LastReceivedLsn;
                lock (_gate)
                {
                    if (_inTransaction || _acknowledgedLsn < _lastYieldedLsn || received <= _acknowledgedLsn)
                    {
                        continue;
                    }

                    _acknowledgedLsn = received;
                }

                connection.SetReplicationStatus(new NpgsqlLogSequenceNumber(received));
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>A message's WAL end and its sending time on the server's clock (a logical walsender stamps each message as it sends it).</summary>
    private void NoteHeard(ulong walEnd, DateTime serverClock)
    {
        var now = _time.GetUtcNow();
        var clock = new DateTimeOffset(DateTime.SpecifyKind(serverClock, DateTimeKind.Utc));
        lock (_gate)
        {
            _lastServerClock = clock;
            _lastServerClockAt = now;
            if (walEnd > _heardPosition)
            {
                _heardPosition = walEnd;
                _heardSourceTime = clock;
                _heardAt = now;
            }
        }
    }

    private ChangeEventSource Source(ChangeTable table, ulong lsn, long txId, DateTimeOffset time) =>
        new(_database, table.Schema, table.Name, lsn, txId, time);

    private static List<ChangeEvent> Require(List<ChangeEvent>? events) =>
        events ?? throw new ReplicationException("pgoutput sent a change outside a transaction");

    private static ChangeTable ToTable(RelationMessage relation)
    {
        var columns = new string[relation.Columns.Count];
        var types = new uint[columns.Length];
        var keys = new List<int>();
        for (var i = 0; i < columns.Length; i++)
        {
            columns[i] = relation.Columns[i].ColumnName;
            types[i] = relation.Columns[i].DataTypeId;
            if ((relation.Columns[i].Flags & RelationMessage.Column.ColumnFlags.PartOfKey) != 0)
            {
                keys.Add(i);
            }
        }

        return new ChangeTable(relation.Namespace, relation.RelationName, columns, keys) { ColumnTypeOids = types };
    }

    private static async ValueTask<ColumnValue[]> ReadRowAsync(ReplicationTuple tuple, ChangeTable table, CancellationToken cancellationToken)
    {
        var values = new ColumnValue[table.Columns.Count];
        var i = 0;
        await foreach (var value in tuple.WithCancellation(cancellationToken))
        {
            values[i++] = value.Kind switch
            {
                TupleDataKind.Null => ColumnValue.Null,
                TupleDataKind.UnchangedToastedValue => ColumnValue.Unchanged,
                TupleDataKind.TextValue => ColumnValue.Of(await ReadTextAsync(value, cancellationToken)),
                _ => throw new ReplicationException($"{table}: unexpected tuple data kind {value.Kind} (the stream must be in text mode)"),
            };
        }

        return values;
    }

    private static async ValueTask<string> ReadTextAsync(ReplicationValue value, CancellationToken cancellationToken)
    {
        var length = value.Length;
        if (length == 0)
        {
            value.GetStream().Dispose();
            return "";
        }

        var buffer = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            await using var stream = value.GetStream();
            await stream.ReadExactlyAsync(buffer.AsMemory(0, length), cancellationToken);
            return Encoding.UTF8.GetString(buffer, 0, length);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    [GeneratedRegex("^[0-9A-F]+-[0-9A-F]+-[0-9]+$", RegexOptions.CultureInvariant)]
    private static partial Regex SnapshotNamePattern();

    [LoggerMessage(EventId = 4009, Level = LogLevel.Warning, Message = "Slot {Slot}: could not ask the source to end the stopping stream's session ({Reason}); its read ends at the receiver timeout")]
    private static partial void LogEndSessionFailed(ILogger logger, string slot, string reason);

    [LoggerMessage(EventId = 4001, Level = LogLevel.Information, Message = "Slot {Slot}: resuming after {Position}")]
    private static partial void LogResuming(ILogger logger, string slot, string position);

    [LoggerMessage(EventId = 4002, Level = LogLevel.Warning, Message = "Slot {Slot} exists but the replica holds no position: dropping it to seed the replica again")]
    private static partial void LogDroppingStaleSlot(ILogger logger, string slot);

    [LoggerMessage(EventId = 4003, Level = LogLevel.Information, Message = "Slot {Slot} created at {ConsistentPoint} with exported snapshot {Snapshot}")]
    private static partial void LogSlotCreated(ILogger logger, string slot, NpgsqlLogSequenceNumber consistentPoint, string snapshot);
}

using System.Diagnostics;
using System.Net;
using System.Threading.Channels;
using Geo.RegionNode.Caching;
using Geo.RegionNode.Shards;
using Geo.RegionNode.Telemetry;
using Npgsql;
using NpgsqlTypes;

namespace Geo.RegionNode.Accounting;

/// <summary>
/// Group commit for one shard: accounting events queue up while a transaction is in flight, and the next
/// transaction takes all of them (up to <see cref="RegionNodeOptions.CommitMaxBatch"/>). Each waiting request
/// learns whether its event is committed; only then does the node answer the NAS. Every transaction first
/// reads the shard's fence FOR SHARE and commits nothing unless this node holds the current epoch. What a group
/// commit wrote is remembered (<see cref="CommittedState"/>), so the next one reads only what it does not know.
/// </summary>
internal sealed partial class AccountingWriter : IAsyncDisposable
{
    private const int MaxAttempts = 4;

    private const string LoadColumns =
        "id, nas_id, acct_session_id, subscriber_id, username, state, started_at, last_update_at, stopped_at, terminate_cause, " +
        "input_octets, output_octets, input_packets, output_packets, session_time_s, nas_port, calling_station_id, framed_ip, " +
        "billed_bytes, billed_seconds, exhaustion_applied, xmin";

    private readonly ShardHandle _shard;
    private readonly IRegionCache _cache;
    private readonly Action<ShardHandle, ExhaustionRequest> _exhausted;
    private readonly TimeProvider _time;
    private readonly int _maxBatch;
    private readonly ILogger _logger;
    private readonly Channel<Pending> _queue = Channel.CreateUnbounded<Pending>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Task _loop;
    private readonly Histogram _batchSizes;
    private readonly Histogram _commitLatency;
    private readonly Counter _committedRequests;
    private readonly Counter _failedBatches;
    private readonly Counter _fenced;
    private readonly Counter _duplicates;
    private readonly Counter _retries;
    private readonly Counter _sessionsRemembered;
    private readonly Counter _sessionsRead;
    private readonly Counter _accountsRemembered;
    private readonly Counter _accountsRead;
    private readonly CommittedState _committed;
    private int _depth;

    public AccountingWriter(ShardHandle shard, IRegionCache cache, Action<ShardHandle, ExhaustionRequest> exhausted, Metrics metrics, TimeProvider time,
        RegionNodeOptions options, ILogger logger)
    {
        _shard = shard;
        _cache = cache;
        _exhausted = exhausted;
        _time = time;
        _maxBatch = options.CommitMaxBatch;
        _logger = logger;
        _committed = new CommittedState(options.CommitMemoryEntries, options.CommitMemoryPlanAge);
        _batchSizes = metrics.Histogram("geo_accounting_commit_batch_size", "Accounting requests per group-commit transaction", Histogram.SizeBounds);
        _commitLatency = metrics.Histogram("geo_accounting_commit_duration_seconds", "Duration of one group-commit transaction", Histogram.LatencyBounds);
        _committedRequests = metrics.Counter("geo_accounting_committed_total", "Accounting requests committed");
        _failedBatches = metrics.Counter("geo_accounting_commit_failures_total", "Group-commit transactions that failed (their requests get no answer; the NAS retransmits)");
        _fenced = metrics.Counter("geo_accounting_fenced_total", "Group commits refused because this node does not hold the shard's current epoch");
        _retries = metrics.Counter("geo_accounting_commit_retries_total", "Group commits started over after a race another transaction won (a session, bucket or balance changed since it was read, a concurrent insert, a deadlock)");
        _duplicates = metrics.Counter("geo_accounting_duplicates_total", "Accounting events that reported nothing new (duplicates, stale or late)");
        const string Remembered = "geo_accounting_commit_memory_total";
        const string RememberedHelp = "Sessions and charging accounts a group commit needed: remembered as the shard's previous group commits wrote them, or read";
        _sessionsRemembered = metrics.Counter(Remembered, RememberedHelp, "kind=\"session\",source=\"remembered\"");
        _sessionsRead = metrics.Counter(Remembered, RememberedHelp, "kind=\"session\",source=\"read\"");
        _accountsRemembered = metrics.Counter(Remembered, RememberedHelp, "kind=\"account\",source=\"remembered\"");
        _accountsRead = metrics.Counter(Remembered, RememberedHelp, "kind=\"account\",source=\"read\"");
        metrics.Gauge("geo_accounting_queue_depth", "Accounting requests waiting for a commit", () => Volatile.Read(ref _depth), $"shard=\"{shard}\"");
        _cache.ProfileChanged += OnProfileChanged;
        _loop = Task.Run(RunAsync);
    }

    /// <summary>A subscriber's plan, status or balance changed (on any node): the account this loop remembers is read again.</summary>
    private void OnProfileChanged(string database, string username)
    {
        if (database == _shard.DatabaseName)
        {
            _committed.Forget(username);
        }
    }

    /// <summary>Queues an event; the task says whether it was committed.</summary>
    public Task<bool> SubmitAsync(AccountingEvent accountingEvent) => Enqueue(new Pending(accountingEvent, null));

    /// <summary>Closes every open session of a NAS that restarted (Accounting-On/Off), in the commit order of its other events.</summary>
    public Task<bool> CloseNasSessionsAsync(string nasId, DateTimeOffset at, string cause) => Enqueue(new Pending(null, new NasRestart(nasId, at, cause)));

    private Task<bool> Enqueue(Pending pending)
    {
        Interlocked.Increment(ref _depth);
        if (!_queue.Writer.TryWrite(pending))
        {
            Interlocked.Decrement(ref _depth);
            pending.Completion.TrySetResult(false);
        }

        return pending.Completion.Task;
    }

    /// <summary>The group-commit loop of the shard, for the life of the writer.</summary>
    private async Task RunAsync()
    {
        try
        {
            await CommitBatchesAsync();
        }
        catch (Exception ex)
        {
            // A bug, never an expected path. Say so loudly, and refuse from now on instead of queueing requests nobody
            // would commit: each one (queued or new) learns at once that it was not committed, and the NAS retransmits.
            LogWriterStopped(_logger, _shard, ex);
            _queue.Writer.TryComplete(ex);
            while (_queue.Reader.TryRead(out var pending))
            {
                Interlocked.Decrement(ref _depth);
                pending.Completion.TrySetResult(false);
            }

            throw;
        }
    }

    private async Task CommitBatchesAsync()
    {
        var batch = new List<Pending>(_maxBatch);
        while (await _queue.Reader.WaitToReadAsync())
        {
            batch.Clear();
            while (batch.Count < _maxBatch && _queue.Reader.TryRead(out var pending))
            {
                batch.Add(pending);
            }

            Interlocked.Add(ref _depth, -batch.Count);
            var outcome = false;
            var started = Stopwatch.GetTimestamp();
            try
            {
                await CommitWithRetriesAsync(batch);
                outcome = true;
                _committedRequests.Add(batch.Count);
                _batchSizes.Observe(batch.Count);
                _commitLatency.Observe(Stopwatch.GetElapsedTime(started).TotalSeconds);
            }
            catch (FencedException ex)
            {
                _fenced.Increment();
                LogFenced(_logger, _shard, ex.Held, ex.Current);
            }
            catch (Exception ex) when (ex is NpgsqlException or InvalidOperationException or TimeoutException or WriteConflictException)
            {
                _failedBatches.Increment();
                LogCommitFailed(_logger, _shard, batch.Count, ex);
            }
            finally
            {
                // Also when something unexpected ends the loop: every request of the batch gets its answer.
                foreach (var pending in batch)
                {
                    pending.Completion.TrySetResult(outcome);
                }
            }
        }
    }

    /// <summary>
    /// Commits the batch, starting over from its reads when it lost a race that a fresh read resolves: a session,
    /// bucket or balance changed by another transaction since it was read, a session or bucket another node inserted first, a
    /// deadlock. The other failures end the batch unanswered (the NAS retransmits).
    /// </summary>
    private async Task CommitWithRetriesAsync(List<Pending> batch)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await CommitAsync(batch);
                return;
            }
            catch (Exception ex) when (attempt < MaxAttempts && ex is WriteConflictException or PostgresException
            {
                SqlState: PostgresErrorCodes.UniqueViolation or PostgresErrorCodes.DeadlockDetected or PostgresErrorCodes.SerializationFailure,
            })
            {
                _retries.Increment();
                LogRetry(_logger, _shard, batch.Count, attempt, ex.Message);
            }
        }
    }

    private async Task CommitAsync(List<Pending> batch)
    {
        try
        {
            await CommitOnceAsync(batch);
        }
        catch
        {
            // Whatever failed, what is remembered may no longer be what the rows hold (or the commit's outcome is unknown).
            _committed.Clear();
            throw;
        }
    }

    private async Task CommitOnceAsync(List<Pending> batch)
    {
        await using var connection = await _shard.DataSource.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        var now = _time.GetUtcNow();
        var (sessions, prefetched, version) = await LoadAsync(connection, transaction, batch, now);
        var cdrs = new List<CdrRow>(batch.Count);
        var closed = new HashSet<SessionState>();
        foreach (var pending in batch)
        {
            if (pending.Event is { } e)
            {
                var key = (e.NasId, e.AcctSessionId);
                if (!sessions.TryGetValue(key, out var session))
                {
                    session = SessionAccumulator.Create(e);
                    sessions[key] = session;
                }

                var wasOpen = session.Open;
                if (SessionAccumulator.Apply(session, e) is { } cdr)
                {
                    cdrs.Add(cdr);
                    if (wasOpen && !session.Open)
                    {
                        closed.Add(session);
                    }
                }
                else
                {
                    _duplicates.Increment();
                }
            }
            else if (pending.Restart is { } restart)
            {
                foreach (var session in sessions.Values)
                {
                    if (session.NasId == restart.NasId && session.Open)
                    {
                        SessionAccumulator.CloseForNasRestart(session, restart.At, restart.Cause);
                        closed.Add(session);
                    }
                }
            }
        }

        // Charging joins the transaction: the CDR with its charge, bucket and balance changes and billed totals commit together.
        var charged = await Charger.ChargeAsync(connection, transaction, _shard, cdrs, sessions.Values.ToDictionary(s => s.Id), now, prefetched);
        cdrs = charged.Cdrs;
        var dirty = sessions.Values.Where(s => s.Dirty).ToList();
        if (dirty.Count > 0 || cdrs.Count > 0)
        {
            await using var write = new NpgsqlBatch(connection, transaction);
            foreach (var command in charged.Writes)
            {
                write.BatchCommands.Add(command);
            }

            // New sessions first: the replica then receives one run of inserts and one of updates, each applied set-based.
            var checks = new List<(NpgsqlBatchCommand Command, int Rows)>(charged.Checks);
            var inserted = dirty.Where(s => s.New).ToList();
            if (inserted.Count > 0)
            {
                write.BatchCommands.Add(InsertSessions(inserted));
            }

            var updated = dirty.Where(s => !s.New).OrderBy(s => s.Id).ToList();
            if (updated.Count > 0)
            {
                var update = UpdateSessions(updated);
                write.BatchCommands.Add(update);
                checks.Add((update, updated.Count));
            }

            if (cdrs.Count > 0)
            {
                write.BatchCommands.Add(InsertCdrs(cdrs));
            }

            await write.ExecuteNonQueryAsync();
            WriteConflictException.ThrowIfAnyRowChanged(checks);
        }

        await transaction.CommitAsync();
        _committed.Remember(sessions.Values, version, prefetched is null ? [] : prefetched.Accounts.Values.Where(a => !a.Remembered).Except(charged.Charged), charged.Charged);

        // Cache invalidations run beside the next group commit: waiting for each Redis round trip here would hold up
        // every request of the batch. A lost one is bounded by the profile cache lifetimes.
        foreach (var username in charged.ChangedProfiles)
        {
            _ = _cache.InvalidateProfileAsync(_shard.DatabaseName, username);
        }

        foreach (var request in charged.Exhausted)
        {
            _exhausted(_shard, request);
        }

        // The session index follows the committed state; it is a cache, rebuilt from PostgreSQL after outages.
        foreach (var session in dirty)
        {
            if (session.SubscriberId is { } subscriber)
            {
                if (session.Open && session.New)
                {
                    _cache.AddSession(_shard.DatabaseName, subscriber, session.Id);
                }
                else if (closed.Contains(session))
                {
                    _cache.RemoveSession(_shard.DatabaseName, subscriber, session.Id);
                }
            }
        }
    }

    /// <summary>
    /// The first round trip of a group commit: the fence, the transaction's id (the row version of what it writes),
    /// the batch's sessions and, for rated plans, the accounts charging will change — those the loop does not
    /// remember. Nothing is locked (a row lock costs a WAL record per row): every write compares and sets (a session
    /// where it is still the version read, a bucket or balance where it still holds what was read), and a new session is
    /// a plain insert that a concurrent insert of the same session makes fail. Either way the group commit starts over
    /// from its reads.
    /// </summary>
    private async Task<(Dictionary<(string, string), SessionState> Sessions, Charger.Prefetched? Accounts, uint Version)> LoadAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, List<Pending> batch, DateTimeOffset now)
    {
        _committed.Prepare(_shard);
        var sessions = new Dictionary<(string, string), SessionState>();
        var nasIds = new List<string>();
        var sessionIds = new List<string>();
        var restartedNas = batch.Where(p => p.Restart is not null).Select(p => p.Restart!.NasId).ToList();
        foreach (var pending in batch)
        {
            if (pending.Event is not { } e || sessions.ContainsKey((e.NasId, e.AcctSessionId)))
            {
                continue;
            }

            // A NAS restart closes open sessions found by a query: that batch reads every session it needs.
            if (restartedNas.Count == 0 && _committed.TryGetSession((e.NasId, e.AcctSessionId), out var remembered))
            {
                sessions[(e.NasId, e.AcctSessionId)] = remembered;
                _sessionsRemembered.Increment();
            }
            else
            {
                nasIds.Add(e.NasId);
                sessionIds.Add(e.AcctSessionId);
                _sessionsRead.Increment();
            }
        }

        await using var read = new NpgsqlBatch(connection, transaction);
        read.BatchCommands.Add(new NpgsqlBatchCommand("SELECT epoch, pg_current_xact_id() FROM shard_fence FOR SHARE"));
        // By key through the (nas_id, acct_session_id) index, never a scan: the cost of a batch must not grow with
        // the sessions table. A NAS restart's open sessions come from their own partial index, in a second statement.
        var sessionsByKey = new NpgsqlBatchCommand(
            $"SELECT {Prefixed("s.", LoadColumns)} FROM unnest($1::text[], $2::text[]) AS k(nas_id, acct_session_id) " +
            "JOIN sessions s ON s.nas_id = k.nas_id AND s.acct_session_id = k.acct_session_id");
        sessionsByKey.Parameters.Add(new() { Value = nasIds.ToArray() });
        sessionsByKey.Parameters.Add(new() { Value = sessionIds.ToArray() });
        read.BatchCommands.Add(sessionsByKey);
        if (restartedNas.Count > 0)
        {
            var openOfNas = new NpgsqlBatchCommand($"SELECT {LoadColumns} FROM sessions WHERE state = 'open' AND nas_id = ANY($1::text[])");
            openOfNas.Parameters.Add(new() { Value = restartedNas.ToArray() });
            read.BatchCommands.Add(openOfNas);
        }

        var subscribers = batch.Where(p => p.Event?.SubscriberId is not null).Select(p => p.Event!.SubscriberId!.Value).Distinct().ToArray();
        var accounts = new Dictionary<Guid, Charger.Account>();
        var rates = Charger.Rates(_shard);
        if (rates)
        {
            foreach (var subscriber in subscribers)
            {
                if (_committed.GetAccount(subscriber, _shard, now) is { } remembered)
                {
                    accounts[subscriber] = remembered;
                }
            }

            _accountsRemembered.Add(accounts.Count);
            _accountsRead.Add(subscribers.Length - accounts.Count);
        }

        var prefetch = Charger.AddPrefetch(read, _shard, subscribers.Where(s => !accounts.ContainsKey(s)).ToArray(), now);

        await using var reader = await read.ExecuteReaderAsync();
        long? fence = null;
        uint version = 0;
        if (await reader.ReadAsync())
        {
            fence = reader.GetInt64(0);
            // A row this transaction writes has its id as xmin: the low 32 bits of the full transaction id.
            version = (uint)(reader.GetFieldValue<ulong>(1) & uint.MaxValue);
        }

        if (fence != _shard.Epoch)
        {
            throw new FencedException(_shard.Epoch, fence);
        }

        for (var result = 0; result < (restartedNas.Count > 0 ? 2 : 1); result++)
        {
            await reader.NextResultAsync();
            while (await reader.ReadAsync())
            {
                var session = ReadSession(reader);
                sessions.TryAdd((session.NasId, session.AcctSessionId), session);
            }
        }

        if (prefetch)
        {
            await reader.NextResultAsync();
            foreach (var (id, account) in await Charger.ReadPrefetchAsync(reader, _shard, now))
            {
                accounts[id] = account;
            }
        }

        return (sessions, rates ? new Charger.Prefetched(accounts, [.. subscribers]) : null, version);
    }

    private static SessionState ReadSession(NpgsqlDataReader reader)
    {
        return new SessionState
        {
            Id = reader.GetGuid(0),
            NasId = reader.GetString(1),
            AcctSessionId = reader.GetString(2),
            SubscriberId = reader.IsDBNull(3) ? null : reader.GetGuid(3),
            Username = reader.GetString(4),
            Open = reader.GetString(5) == "open",
            StartedAt = reader.GetFieldValue<DateTimeOffset>(6),
            LastUpdateAt = reader.GetFieldValue<DateTimeOffset>(7),
            StoppedAt = reader.IsDBNull(8) ? null : reader.GetFieldValue<DateTimeOffset>(8),
            TerminateCause = reader.IsDBNull(9) ? null : reader.GetString(9),
            Counters = new Counters(reader.GetInt64(10), reader.GetInt64(11), reader.GetInt64(12), reader.GetInt64(13), reader.GetInt64(14)),
            NasPort = reader.IsDBNull(15) ? null : reader.GetString(15),
            CallingStationId = reader.IsDBNull(16) ? null : reader.GetString(16),
            FramedIp = reader.IsDBNull(17) ? null : reader.GetFieldValue<IPAddress>(17),
            BilledBytes = reader.GetInt64(18),
            BilledSeconds = reader.GetInt64(19),
            ExhaustionApplied = reader.GetBoolean(20),
            ReadVersion = reader.GetFieldValue<uint>(21),
        };
    }

    private static string Prefixed(string prefix, string columns) => string.Join(", ", columns.Split(", ").Select(c => prefix + c));

    /// <summary>The columns a session write sets, in the order of <see cref="SessionArrays"/> ($1 to $19).</summary>
    private const string SessionColumns =
        "id, subscriber_id, username, nas_port, calling_station_id, framed_ip, state, started_at, last_update_at, stopped_at, terminate_cause, " +
        "input_octets, output_octets, input_packets, output_packets, session_time_s, billed_bytes, billed_seconds, exhaustion_applied";

    private const string SessionArrays =
        "$1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::inet[], $7::text[], $8::timestamptz[], $9::timestamptz[], $10::timestamptz[], " +
        "$11::text[], $12::bigint[], $13::bigint[], $14::bigint[], $15::bigint[], $16::bigint[], $17::bigint[], $18::bigint[], $19::boolean[]";

    private static readonly string UpdateSessionsSql =
        $"UPDATE sessions AS s SET {string.Join(", ", SessionColumns.Split(", ").Where(c => c is not ("id" or "started_at")).Select(c => $"{c} = u.{c}"))} " +
        $"FROM unnest({SessionArrays}, $20::xid[]) AS u({SessionColumns}, read_version) WHERE s.id = u.id AND s.xmin = u.read_version";

    /// <summary>New sessions: a plain insert, so a session another node inserted first fails it (unique key) and the group commit starts over.</summary>
    private static NpgsqlBatchCommand InsertSessions(List<SessionState> sessions)
    {
        var command = new NpgsqlBatchCommand(
            $"INSERT INTO sessions ({SessionColumns}, nas_id, acct_session_id) SELECT * FROM unnest({SessionArrays}, $20::text[], $21::text[])");
        AddSessionValues(command, sessions);
        Add(command, sessions.Select(s => s.NasId).ToArray(), NpgsqlDbType.Text);
        Add(command, sessions.Select(s => s.AcctSessionId).ToArray(), NpgsqlDbType.Text);
        return command;
    }

    /// <summary>
    /// Sessions this transaction read, written only where the row is still the version read (its xmin): one that
    /// another transaction changed in between is left as it is, and the group commit starts over
    /// (<see cref="WriteConflictException.ThrowIfAnyRowChanged"/>).
    /// </summary>
    private static NpgsqlBatchCommand UpdateSessions(List<SessionState> sessions)
    {
        var command = new NpgsqlBatchCommand(UpdateSessionsSql);
        AddSessionValues(command, sessions);
        Add(command, sessions.Select(s => s.ReadVersion).ToArray(), NpgsqlDbType.Xid);
        return command;
    }

    private static void AddSessionValues(NpgsqlBatchCommand command, List<SessionState> sessions)
    {
        Add(command, sessions.Select(s => s.Id).ToArray(), NpgsqlDbType.Uuid);
        Add(command, sessions.Select(s => s.SubscriberId).ToArray(), NpgsqlDbType.Uuid);
        Add(command, sessions.Select(s => s.Username).ToArray(), NpgsqlDbType.Text);
        Add(command, sessions.Select(s => s.NasPort).ToArray(), NpgsqlDbType.Text);
        Add(command, sessions.Select(s => s.CallingStationId).ToArray(), NpgsqlDbType.Text);
        Add(command, sessions.Select(s => s.FramedIp).ToArray(), NpgsqlDbType.Inet);
        Add(command, sessions.Select(s => s.Open ? "open" : "closed").ToArray(), NpgsqlDbType.Text);
        Add(command, sessions.Select(s => s.StartedAt).ToArray(), NpgsqlDbType.TimestampTz);
        Add(command, sessions.Select(s => s.LastUpdateAt).ToArray(), NpgsqlDbType.TimestampTz);
        Add(command, sessions.Select(s => s.StoppedAt).ToArray(), NpgsqlDbType.TimestampTz);
        Add(command, sessions.Select(s => s.TerminateCause).ToArray(), NpgsqlDbType.Text);
        Add(command, sessions.Select(s => s.Counters.InputOctets).ToArray(), NpgsqlDbType.Bigint);
        Add(command, sessions.Select(s => s.Counters.OutputOctets).ToArray(), NpgsqlDbType.Bigint);
        Add(command, sessions.Select(s => s.Counters.InputPackets).ToArray(), NpgsqlDbType.Bigint);
        Add(command, sessions.Select(s => s.Counters.OutputPackets).ToArray(), NpgsqlDbType.Bigint);
        Add(command, sessions.Select(s => s.Counters.SessionTime).ToArray(), NpgsqlDbType.Bigint);
        Add(command, sessions.Select(s => s.BilledBytes).ToArray(), NpgsqlDbType.Bigint);
        Add(command, sessions.Select(s => s.BilledSeconds).ToArray(), NpgsqlDbType.Bigint);
        Add(command, sessions.Select(s => s.ExhaustionApplied).ToArray(), NpgsqlDbType.Boolean);
    }

    private static NpgsqlBatchCommand InsertCdrs(List<CdrRow> cdrs)
    {
        var command = new NpgsqlBatchCommand("""
            INSERT INTO cdrs (id, session_id, subscriber_id, kind, event_time, input_octets, output_octets, session_time_s,
                              delta_input_octets, delta_output_octets, delta_session_time_s, flags,
                              charged_micros, data_used, time_used, rating_marks, balance_after_micros)
            SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::timestamptz[], $6::bigint[], $7::bigint[], $8::bigint[],
                                 $9::bigint[], $10::bigint[], $11::bigint[], $12::int[],
                                 $13::bigint[], $14::bigint[], $15::bigint[], $16::int[], $17::bigint[])
            """);
        Add(command, cdrs.Select(c => c.Id).ToArray(), NpgsqlDbType.Uuid);
        Add(command, cdrs.Select(c => c.SessionId).ToArray(), NpgsqlDbType.Uuid);
        Add(command, cdrs.Select(c => c.SubscriberId).ToArray(), NpgsqlDbType.Uuid);
        Add(command, cdrs.Select(c => c.Kind switch { AccountingKind.Start => "start", AccountingKind.Stop => "stop", _ => "interim" }).ToArray(), NpgsqlDbType.Text);
        Add(command, cdrs.Select(c => c.EventTime).ToArray(), NpgsqlDbType.TimestampTz);
        Add(command, cdrs.Select(c => c.Reported.InputOctets).ToArray(), NpgsqlDbType.Bigint);
        Add(command, cdrs.Select(c => c.Reported.OutputOctets).ToArray(), NpgsqlDbType.Bigint);
        Add(command, cdrs.Select(c => c.Reported.SessionTime).ToArray(), NpgsqlDbType.Bigint);
        Add(command, cdrs.Select(c => c.Delta.InputOctets).ToArray(), NpgsqlDbType.Bigint);
        Add(command, cdrs.Select(c => c.Delta.OutputOctets).ToArray(), NpgsqlDbType.Bigint);
        Add(command, cdrs.Select(c => c.Delta.SessionTime).ToArray(), NpgsqlDbType.Bigint);
        Add(command, cdrs.Select(c => c.Flags).ToArray(), NpgsqlDbType.Integer);
        Add(command, cdrs.Select(c => c.ChargedMicros).ToArray(), NpgsqlDbType.Bigint);
        Add(command, cdrs.Select(c => c.DataUsed).ToArray(), NpgsqlDbType.Bigint);
        Add(command, cdrs.Select(c => c.TimeUsed).ToArray(), NpgsqlDbType.Bigint);
        Add(command, cdrs.Select(c => c.RatingMarks).ToArray(), NpgsqlDbType.Integer);
        Add(command, cdrs.Select(c => c.BalanceAfterMicros).ToArray(), NpgsqlDbType.Bigint);
        return command;
    }

    private static void Add<T>(NpgsqlBatchCommand command, T[] values, NpgsqlDbType elementType) =>
        command.Parameters.Add(new NpgsqlParameter { Value = values, NpgsqlDbType = NpgsqlDbType.Array | elementType });

    /// <summary>Finishes what is queued (graceful shutdown or loss of the shard), then stops.</summary>
    public async ValueTask DisposeAsync()
    {
        _cache.ProfileChanged -= OnProfileChanged;
        _queue.Writer.TryComplete();
        await _loop;
    }

    private sealed record Pending(AccountingEvent? Event, NasRestart? Restart)
    {
        public TaskCompletionSource<bool> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private sealed record NasRestart(string NasId, DateTimeOffset At, string Cause);

    private sealed class FencedException(long held, long? current) : Exception($"epoch {held} held, fence at {current}")
    {
        public long Held { get; } = held;

        public long? Current { get; } = current;
    }

    [LoggerMessage(EventId = 1200, Level = LogLevel.Error, Message = "Shard {Shard}: group commit of {Count} accounting requests failed; none was answered")]
    private static partial void LogCommitFailed(ILogger logger, ShardHandle shard, int count, Exception exception);

    [LoggerMessage(EventId = 1203, Level = LogLevel.Critical, Message = "Shard {Shard}: the group-commit loop stopped; accounting of this shard is no longer committed")]
    private static partial void LogWriterStopped(ILogger logger, ShardHandle shard, Exception exception);

    [LoggerMessage(EventId = 1202, Level = LogLevel.Information, Message = "Shard {Shard}: group commit of {Count} accounting requests started over (attempt {Attempt} lost a race: {Reason})")]
    private static partial void LogRetry(ILogger logger, ShardHandle shard, int count, int attempt, string reason);

    [LoggerMessage(EventId = 1201, Level = LogLevel.Warning, Message = "Shard {Shard}: write refused, this node holds epoch {Held} but the fence is at {Current}")]
    private static partial void LogFenced(ILogger logger, ShardHandle shard, long held, long? current);
}

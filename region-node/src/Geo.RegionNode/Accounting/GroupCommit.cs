using System.Collections.ObjectModel;
using Geo.RegionNode.Caching;
using Geo.RegionNode.Shards;
using Geo.RegionNode.Telemetry;
using Npgsql;

namespace Geo.RegionNode.Accounting;

/// <summary>
/// One group-commit transaction: reads (one round trip), <see cref="BatchPlanner"/> decides, <see cref="AccountingStatements"/>
/// writes (second round trip), then <see cref="CommittedState"/> remembers. Used only by the shard's <see cref="AccountingWriter"/> loop.
/// </summary>
internal sealed class GroupCommit : IDisposable
{
    private readonly ShardHandle _shard;
    private readonly IRegionCache _cache;
    private readonly Action<ShardHandle, ExhaustionRequest> _exhausted;
    private readonly TimeProvider _time;
    private readonly CommittedState _committed;
    private readonly Counter _duplicates;
    private readonly Counter _sessionsRemembered;
    private readonly Counter _sessionsRead;
    private readonly Counter _accountsRemembered;
    private readonly Counter _accountsRead;
    private readonly Counter _staleClasses;

    public GroupCommit(ShardHandle shard, IRegionCache cache, Action<ShardHandle, ExhaustionRequest> exhausted, Metrics metrics, TimeProvider time, RegionNodeOptions options)
    {
        _shard = shard;
        _cache = cache;
        _exhausted = exhausted;
        _time = time;
        _committed = new CommittedState(options.CommitMemoryEntries, options.CommitMemoryPlanAge);
        _duplicates = metrics.Counter("geo_accounting_duplicates_total", "Accounting events that reported nothing new (duplicates, stale or late)");
        const string Remembered = "geo_accounting_commit_memory_total";
        const string RememberedHelp = "Sessions and charging accounts a group commit needed: remembered as the shard's previous group commits wrote them, or read";
        _sessionsRemembered = metrics.Counter(Remembered, RememberedHelp, "kind=\"session\",source=\"remembered\"");
        _sessionsRead = metrics.Counter(Remembered, RememberedHelp, "kind=\"session\",source=\"read\"");
        _accountsRemembered = metrics.Counter(Remembered, RememberedHelp, "kind=\"account\",source=\"remembered\"");
        _accountsRead = metrics.Counter(Remembered, RememberedHelp, "kind=\"account\",source=\"read\"");
        _staleClasses = metrics.Counter("geo_accounting_stale_class_total",
            "Accounting requests whose Class named a subscriber the shard does not hold; the subscriber of their User-Name was used");
        _cache.ProfileChanged += OnProfileChanged;
    }

    /// <summary>
    /// Commits <paramref name="work"/> in one transaction, or throws; then nothing is remembered any more. An event whose
    /// subscriber is in the shard neither by its Class nor by its User-Name is left out: its position goes to
    /// <paramref name="rejected"/>, and the rest commits without it.
    /// </summary>
    public async Task CommitAsync(List<AccountingWork> work, List<int> rejected)
    {
        rejected.Clear();
        try
        {
            await CommitOnceAsync(work, rejected);
        }
        catch
        {
            // Whatever failed, what is remembered may no longer be what the rows hold (or the commit's outcome is unknown).
            _committed.Clear();
            throw;
        }
    }

    public void Dispose() => _cache.ProfileChanged -= OnProfileChanged;

    /// <summary>A subscriber's plan, status or balance changed (on any node): the account this loop remembers is read again.</summary>
    private void OnProfileChanged(string database, string username)
    {
        if (database == _shard.DatabaseName)
        {
            _committed.Forget(username);
        }
    }

    private async Task CommitOnceAsync(List<AccountingWork> work, List<int> rejected)
    {
        await using var connection = await _shard.DataSource.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        var now = _time.GetUtcNow();
        var read = await ReadAsync(connection, transaction, work, now);
        var valid = read.Missing.Count == 0 ? work : await ResolveMissingAsync(connection, transaction, work, read, rejected);
        var plan = BatchPlanner.Accumulate(valid, read.Sessions);
        _duplicates.Add(plan.Duplicates);

        // Charging joins the transaction: the CDR with its charge, bucket and balance changes and billed totals commit together.
        await ReadLateAccountsAsync(connection, transaction, plan, read, now);
        BatchPlanner.Charge(plan, (IReadOnlyDictionary<Guid, ChargingAccount>?)read.Accounts ?? ReadOnlyDictionary<Guid, ChargingAccount>.Empty, now);
        if (plan.HasWrites)
        {
            await using var write = new NpgsqlBatch(connection, transaction);
            var checks = new List<(NpgsqlBatchCommand Command, int Rows)>(3);
            AccountingStatements.AddWrites(write, plan, checks);
            await write.ExecuteNonQueryAsync();
            WriteConflictException.ThrowIfAnyRowChanged(checks);
        }

        if (!_shard.HoldsLease)
        {
            // The lease ran out while the batch was being written: rolled back, never acknowledged, so that nothing
            // commits here after the directory may have handed the shard to another region.
            throw new FencedException(_shard.Epoch, null, leaseLapsed: true);
        }

        await transaction.CommitAsync();
        _committed.RememberSubscribers(read.Found);
        _committed.Remember(plan.Sessions.Values, read.Version, read.Accounts is null ? [] : BatchPlanner.ReadNotCharged(read.Accounts.Values, plan), plan.Charged);
        ApplyEffects(plan);
    }

    /// <summary>
    /// First round trip: fence, transaction id, the batch's sessions and the unremembered accounts. Nothing is locked (a row
    /// lock costs a WAL record per row): every write compares and sets, and a losing race restarts the group commit.
    /// </summary>
    private async Task<FirstRead> ReadAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, List<AccountingWork> work, DateTimeOffset now)
    {
        _committed.Prepare(_shard);
        var sessions = new Dictionary<(string NasId, string AcctSessionId), SessionState>();
        var nasIds = new List<string>();
        var sessionIds = new List<string>();
        var restartedNas = new List<string>();
        var subscribers = new HashSet<Guid>();
        foreach (var item in work)
        {
            if (item.Restart is { } restart)
            {
                restartedNas.Add(restart.NasId);
            }
            else if (item.Event?.SubscriberId is { } subscriber)
            {
                subscribers.Add(subscriber);
            }
        }

        foreach (var item in work)
        {
            if (item.Event is not { } e || sessions.ContainsKey((e.NasId, e.AcctSessionId)))
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

        await using var batch = new NpgsqlBatch(connection, transaction);
        batch.BatchCommands.Add(AccountingStatements.Fence());
        batch.BatchCommands.Add(AccountingStatements.SessionsByKey([.. nasIds], [.. sessionIds]));
        if (restartedNas.Count > 0)
        {
            batch.BatchCommands.Add(AccountingStatements.OpenSessionsOfNas([.. restartedNas]));
        }

        var ratedPlans = RatedPlans(_shard);
        Dictionary<Guid, ChargingAccount>? accounts = null;
        var toRead = new List<Guid>();
        var toCheck = new List<Guid>();
        if (ratedPlans.Length == 0)
        {
            // Nothing to charge, but a session or CDR naming a subscriber the shard does not hold would fail the whole
            // group commit: each subscriber not seen before is checked in the same round trip.
            foreach (var subscriber in subscribers)
            {
                if (!_committed.IsKnownSubscriber(subscriber))
                {
                    toCheck.Add(subscriber);
                }
            }

            if (toCheck.Count > 0)
            {
                batch.BatchCommands.Add(AccountingStatements.SubscribersFound([.. toCheck]));
            }
        }
        else
        {
            accounts = [];
            foreach (var subscriber in subscribers)
            {
                if (_committed.GetAccount(subscriber, _shard, now) is { } remembered)
                {
                    accounts[subscriber] = remembered;
                }
                else
                {
                    toRead.Add(subscriber);
                }
            }

            _accountsRemembered.Add(accounts.Count);
            _accountsRead.Add(toRead.Count);
            if (toRead.Count > 0)
            {
                batch.BatchCommands.Add(AccountingStatements.Accounts([.. toRead], ratedPlans, now));
            }
        }

        await using var reader = await batch.ExecuteReaderAsync();
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
                var session = AccountingStatements.ReadSession(reader);
                sessions.TryAdd((session.NasId, session.AcctSessionId), session);
            }
        }

        var found = new HashSet<Guid>();
        if (accounts is not null && toRead.Count > 0)
        {
            await reader.NextResultAsync();
            foreach (var (id, account) in await AccountingStatements.ReadAccountsAsync(reader, _shard, now, found))
            {
                accounts[id] = account;
            }
        }
        else if (toCheck.Count > 0)
        {
            await reader.NextResultAsync();
            while (await reader.ReadAsync())
            {
                found.Add(reader.GetGuid(0));
            }
        }

        // What was to be read or checked and was not found: the shard does not hold that subscriber.
        var missing = new HashSet<Guid>(toRead.Count > 0 ? toRead : toCheck);
        missing.ExceptWith(found);
        return new FirstRead(sessions, accounts, subscribers, version, found, missing);
    }

    /// <summary>
    /// Some events name (by their Class) a subscriber the shard does not hold: a stale or foreign Class. Each is given the
    /// subscriber of its User-Name instead, when the shard holds one; otherwise it is left out of the batch and its
    /// position goes to <paramref name="rejected"/>. Returns the batch to commit.
    /// </summary>
    private async Task<List<AccountingWork>> ResolveMissingAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, List<AccountingWork> work, FirstRead read, List<int> rejected)
    {
        var usernames = new HashSet<string>(StringComparer.Ordinal);
        foreach (var item in work)
        {
            if (item.Event is { SubscriberId: { } id } e && read.Missing.Contains(id))
            {
                usernames.Add(e.Username);
            }
        }

        var byName = new Dictionary<string, Guid>(StringComparer.Ordinal);
        await using (var batch = new NpgsqlBatch(connection, transaction))
        {
            batch.BatchCommands.Add(AccountingStatements.SubscribersByName([.. usernames]));
            await using var reader = await batch.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                byName[reader.GetString(0)] = reader.GetGuid(1);
            }
        }

        var valid = new List<AccountingWork>(work.Count);
        for (var i = 0; i < work.Count; i++)
        {
            var item = work[i];
            if (item.Event is not { SubscriberId: { } id } e || !read.Missing.Contains(id))
            {
                valid.Add(item);
            }
            else if (byName.TryGetValue(e.Username, out var named))
            {
                _staleClasses.Increment();
                read.Found.Add(named);
                valid.Add(new AccountingWork(e with { SubscriberId = named }, null));
            }
            else
            {
                rejected.Add(i);
            }
        }

        return valid;
    }

    /// <summary>
    /// Usually every account was read with the sessions; a subscriber whose event did not name it (no Class) but whose
    /// session does is read now. Only an account on a rated plan is kept: it is charged, so never remembered as read.
    /// </summary>
    private async Task ReadLateAccountsAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, BatchPlan plan, FirstRead read, DateTimeOffset now)
    {
        if (read.Accounts is null)
        {
            return;
        }

        var missing = new List<Guid>();
        foreach (var subscriber in BatchPlanner.SubscribersToCharge(plan))
        {
            if (!read.Requested.Contains(subscriber))
            {
                missing.Add(subscriber);
            }
        }

        var ratedPlans = RatedPlans(_shard);
        if (missing.Count == 0 || ratedPlans.Length == 0)
        {
            return;
        }

        await using var batch = new NpgsqlBatch(connection, transaction);
        batch.BatchCommands.Add(AccountingStatements.Accounts([.. missing], ratedPlans, now));
        await using var reader = await batch.ExecuteReaderAsync();
        foreach (var (id, account) in await AccountingStatements.ReadAccountsAsync(reader, _shard, now))
        {
            if (account.Plan.IsRated)
            {
                read.Accounts[id] = account;
            }
        }
    }

    /// <summary>What follows a commit: none of it is needed for the commit's durability.</summary>
    private void ApplyEffects(BatchPlan plan)
    {
        // Cache invalidations run beside the next group commit: waiting for each Redis round trip here would hold up
        // every request of the batch. A lost one is bounded by the profile cache lifetimes.
        foreach (var username in plan.ChangedProfiles)
        {
            _ = _cache.InvalidateProfileAsync(_shard.DatabaseName, username);
        }

        foreach (var request in plan.Exhausted)
        {
            _exhausted(_shard, request);
        }

        // The session index follows the committed state; it is a cache, rebuilt from PostgreSQL after outages.
        foreach (var session in plan.NewSessions)
        {
            IndexSession(session, plan);
        }

        foreach (var session in plan.ChangedSessions)
        {
            IndexSession(session, plan);
        }
    }

    private void IndexSession(SessionState session, BatchPlan plan)
    {
        if (session.SubscriberId is not { } subscriber)
        {
            return;
        }

        if (session.Open && session.New)
        {
            _cache.AddSession(_shard.DatabaseName, subscriber, session.Id);
        }
        else if (plan.Closed.Contains(session))
        {
            _cache.RemoveSession(_shard.DatabaseName, subscriber, session.Id);
        }
    }

    private static string[] RatedPlans(ShardHandle shard)
    {
        var rated = new List<string>();
        foreach (var plan in shard.Plans.Values)
        {
            if (plan.IsRated)
            {
                rated.Add(plan.Id);
            }
        }

        return [.. rated];
    }

    /// <summary>
    /// What the first round trip found: the batch's sessions, the accounts (null when the shard rates nothing), which subscribers
    /// were asked for, which were found in the shard (<see cref="Found"/>) and which the shard does not hold (<see cref="Missing"/>).
    /// </summary>
    private sealed record FirstRead(
        Dictionary<(string NasId, string AcctSessionId), SessionState> Sessions, Dictionary<Guid, ChargingAccount>? Accounts, HashSet<Guid> Requested, uint Version,
        HashSet<Guid> Found, HashSet<Guid> Missing);
}

/// <summary>This node does not hold the shard's current epoch: the group commit writes nothing.</summary>
internal sealed class FencedException(long held, long? current, bool leaseLapsed = false)
    : Exception(leaseLapsed ? $"the owner lease at epoch {held} is not held" : $"epoch {held} held, fence at {current}")
{
    public long Held { get; } = held;

    public long? Current { get; } = current;

    /// <summary>True when the node's own owner lease ran out (not the database's fence).</summary>
    public bool LeaseLapsed { get; } = leaseLapsed;
}

/// <summary>A session, bucket or balance changed between the group commit's read and its write: the whole group commit is retried.</summary>
internal sealed class WriteConflictException(int rows) : Exception($"{rows} sessions, buckets or balances changed by another transaction since they were read")
{
    /// <summary>
    /// Throws when a compare-and-set write, once executed, changed fewer rows than it was given: another transaction
    /// changed one of them since it was read.
    /// </summary>
    public static void ThrowIfAnyRowChanged(List<(NpgsqlBatchCommand Command, int Rows)> checks)
    {
        foreach (var (command, rows) in checks)
        {
            if (command.RecordsAffected != rows)
            {
                throw new WriteConflictException(rows - (int)command.RecordsAffected);
            }
        }
    }
}

using Geo.Rating;
using Geo.RegionNode.Shards;
using Npgsql;
using NpgsqlTypes;

namespace Geo.RegionNode.Accounting;

/// <summary>A plan's exhaustion action to send to the NAS of a session once the transaction has committed.</summary>
internal sealed record ExhaustionRequest(Guid RequestId, SessionState Session, Guid SubscriberId, Plan Plan);

/// <summary>
/// What charging adds to a group-commit transaction. Each of <see cref="Checks"/> is a write of <see cref="Writes"/>
/// that must change exactly that many rows: it changes a bucket or balance only where it still holds what charging
/// read (see <see cref="WriteConflictException.ThrowIfAnyRowChanged"/>).
/// </summary>
internal sealed record ChargeResult(List<CdrRow> Cdrs, List<NpgsqlBatchCommand> Writes, List<ExhaustionRequest> Exhausted, HashSet<string> ChangedProfiles)
{
    public List<(NpgsqlBatchCommand Command, int Rows)> Checks { get; } = [];
}

/// <summary>A session, bucket or balance changed between the group commit's read and its write: the whole group commit is retried.</summary>
internal sealed class WriteConflictException(int rows) : Exception($"{rows} sessions, buckets or balances changed by another transaction since they were read")
{
    /// <summary>
    /// Throws when a compare-and-set write, once executed, changed fewer rows than it was given: another transaction
    /// changed one of them since it was read.
    /// </summary>
    public static void ThrowIfAnyRowChanged(IEnumerable<(NpgsqlBatchCommand Command, int Rows)> checks)
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

/// <summary>
/// Charges the CDRs of a group commit inside its transaction: quota buckets and balances are read (without a
/// lock: locking them cost a WAL record per row), every CDR is rated in order (<see cref="Rater"/>), and the CDR
/// with its charge and the balance after it (the CDR is the charge's ledger entry: see the <c>ledger</c> view), the
/// bucket and balance changes and the session's billed totals are written in the same transaction as the
/// accounting itself. A bucket or balance is written only where it still holds what was
/// read (compare-and-set); if another transaction changed it in between, the group commit is retried from its
/// reads. A CDR exists once per new usage, so nothing is charged twice.
/// </summary>
internal static class Charger
{
    /// <summary>
    /// Adds the read charging needs for <paramref name="subscriberIds"/> (those on a rated plan, with their current
    /// quota buckets and balance) to the group commit's first round trip; <see cref="ReadPrefetchAsync"/> reads them
    /// back. False when the shard has no rated plan (nothing added).
    /// </summary>
    public static bool AddPrefetch(NpgsqlBatch batch, ShardHandle shard, Guid[] subscriberIds, DateTimeOffset now)
    {
        var ratedPlans = RatedPlans(shard);
        if (subscriberIds.Length == 0 || ratedPlans.Length == 0)
        {
            return false;
        }

        foreach (var command in AccountReads(subscriberIds, ratedPlans, now))
        {
            batch.BatchCommands.Add(command);
        }

        return true;
    }

    /// <summary>Reads what <see cref="AddPrefetch"/> asked for; the reader stands before its first result.</summary>
    public static async Task<Prefetched> ReadPrefetchAsync(NpgsqlDataReader reader, ShardHandle shard, Guid[] subscriberIds, DateTimeOffset now) =>
        new(await ReadAccountsAsync(reader, shard, now), [.. subscriberIds]);

    public static async Task<ChargeResult> ChargeAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, ShardHandle shard,
        List<CdrRow> cdrs, IReadOnlyDictionary<Guid, SessionState> sessions, DateTimeOffset now, Prefetched? prefetched = null)
    {
        var result = new ChargeResult(new List<CdrRow>(cdrs.Count), [], [], []);
        var subscriberIds = cdrs.Where(c => c.SubscriberId is not null).Select(c => c.SubscriberId!.Value).Distinct().ToArray();
        // Only the subscribers with new usage are charged (a duplicate's subscriber was read, and is left as it is).
        var accounts = prefetched?.Accounts.Where(a => subscriberIds.Contains(a.Key)).ToDictionary() ?? [];
        // Usually every subscriber was read with the sessions; one whose event did not name it (no Class) is read now.
        var missing = subscriberIds.Where(id => prefetched?.Requested.Contains(id) != true).ToArray();
        if (missing.Length > 0)
        {
            foreach (var (id, account) in await LoadAsync(connection, transaction, shard, missing, now))
            {
                accounts[id] = account;
            }
        }

        foreach (var cdr in cdrs)
        {
            var session = sessions[cdr.SessionId];
            var bytes = cdr.Delta.InputOctets + cdr.Delta.OutputOctets;
            var seconds = cdr.Delta.SessionTime;
            var usage = new Usage(bytes, seconds, session.BilledBytes, session.BilledSeconds);
            session.BilledBytes += bytes;
            session.BilledSeconds += seconds;
            if (cdr.SubscriberId is not { } subscriber || !accounts.TryGetValue(subscriber, out var account))
            {
                result.Cdrs.Add(cdr);
                continue;
            }

            var rated = Rater.Rate(account.Plan.Tariff, usage, account.Data?.Bucket, account.Time?.Bucket, account.Balance);
            account.Data?.Consume(rated.DataUsed);
            account.Time?.Consume(rated.TimeUsed);
            long? balanceAfter = null;
            if (rated.ChargeMicros > 0)
            {
                account.Balance -= rated.ChargeMicros;
                account.BalanceChanged = true;
                balanceAfter = account.Balance ?? 0;
            }

            if (rated.Exhausted)
            {
                account.Data?.MarkExhaustedIfEmpty(now);
                account.Time?.MarkExhaustedIfEmpty(now);
                result.ChangedProfiles.Add(session.Username);
                if (session.Open && !session.ExhaustionApplied)
                {
                    session.ExhaustionApplied = true;
                    session.Dirty = true;
                    result.Exhausted.Add(new ExhaustionRequest(Guid.CreateVersion7(), session, subscriber, account.Plan));
                }
            }
            else if ((account.ReadBalance > 0 && account.Balance <= 0) || account.Data?.PeriodStart is not null || account.Time?.PeriodStart is not null)
            {
                // The cached profile keeps the balance and the quota state only for authentication's decision (is there
                // money left, is the quota exhausted), which changes when the balance reaches zero or a new period
                // starts a fresh bucket; a charge that leaves money costs no cache invalidation.
                result.ChangedProfiles.Add(session.Username);
            }

            result.Cdrs.Add(cdr with
            {
                ChargedMicros = rated.ChargeMicros, BalanceAfterMicros = balanceAfter, DataUsed = rated.DataUsed, TimeUsed = rated.TimeUsed, RatingMarks = (int)rated.Marks,
            });
        }

        AddWrites(result, accounts.Values);
        return result;
    }

    private static async Task<Dictionary<Guid, Account>> LoadAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, ShardHandle shard, Guid[] subscriberIds, DateTimeOffset now)
    {
        var ratedPlans = RatedPlans(shard);
        if (ratedPlans.Length == 0)
        {
            return [];
        }

        await using var read = new NpgsqlBatch(connection, transaction);
        foreach (var command in AccountReads(subscriberIds, ratedPlans, now))
        {
            read.BatchCommands.Add(command);
        }

        await using var reader = await read.ExecuteReaderAsync();
        return await ReadAccountsAsync(reader, shard, now);
    }

    /// <summary>
    /// The subscribers on a rated plan among <paramref name="subscriberIds"/> with their balance and current buckets:
    /// one row per bucket (or one without), in subscriber order, a later period after an earlier one.
    /// </summary>
    private static IEnumerable<NpgsqlBatchCommand> AccountReads(Guid[] subscriberIds, string[] ratedPlans, DateTimeOffset now)
    {
        var read = new NpgsqlBatchCommand("""
            SELECT s.id, s.plan_id, s.created_at, b.amount_micros, q.id, q.kind, q.granted, q.used, q.exhausted_at
            FROM subscribers s
            LEFT JOIN balances b ON b.subscriber_id = s.id
            LEFT JOIN quota_buckets q ON q.subscriber_id = s.id AND q.period_start <= $2 AND (q.period_end IS NULL OR q.period_end > $2)
            WHERE s.id = ANY($1) AND s.plan_id = ANY($3)
            ORDER BY s.id, q.period_start
            """);
        read.Parameters.Add(new() { Value = subscriberIds });
        read.Parameters.Add(new() { Value = now });
        read.Parameters.Add(new() { Value = ratedPlans });
        yield return read;
    }

    private static async Task<Dictionary<Guid, Account>> ReadAccountsAsync(NpgsqlDataReader reader, ShardHandle shard, DateTimeOffset now)
    {
        var accounts = new Dictionary<Guid, Account>();
        while (await reader.ReadAsync())
        {
            var id = reader.GetGuid(0);
            if (!accounts.TryGetValue(id, out var account))
            {
                if (!shard.Plans.TryGetValue(reader.GetString(1), out var plan) || !plan.IsRated)
                {
                    continue;
                }

                account = new Account(plan, reader.GetFieldValue<DateTimeOffset>(2)) { SubscriberId = id };
                if (!reader.IsDBNull(3))
                {
                    account.Balance = account.ReadBalance = reader.GetInt64(3);
                }

                accounts[id] = account;
            }

            if (!reader.IsDBNull(4))
            {
                var state = new BucketState(reader.GetGuid(4), reader.GetInt64(6), reader.GetInt64(7), reader.IsDBNull(8) ? null : reader.GetFieldValue<DateTimeOffset>(8), null, null);
                if (reader.GetString(5) == "data")
                {
                    account.Data = state;
                }
                else
                {
                    account.Time = state;
                }
            }
        }

        // A quota plan without a bucket for the current period starts one (the monthly reset, or the first use).
        foreach (var account in accounts.Values)
        {
            var (start, end) = BillingPeriod.Containing(now, account.Plan.ResetDay, account.Plan.ValidityDays, account.CreatedAt);
            if (account.Plan.Tariff.DataQuotaBytes is { } data && account.Data is null)
            {
                account.Data = new BucketState(Guid.CreateVersion7(), data, 0, null, start, end);
            }

            if (account.Plan.Tariff.TimeQuotaSeconds is { } time && account.Time is null)
            {
                account.Time = new BucketState(Guid.CreateVersion7(), time, 0, null, start, end);
            }

            if (!account.Plan.Tariff.IsPriced)
            {
                account.Balance = null;
            }
        }

        return accounts;
    }

    private static void AddWrites(ChargeResult result, IEnumerable<Account> accounts)
    {
        var touched = accounts.SelectMany(a => new[] { (a, a.Data, "data"), (a, a.Time, "time") })
            .Where(x => x.Item2 is { Changed: true })
            .Select(x => (Subscriber: x.a, Bucket: x.Item2!, Kind: x.Item3))
            .ToList();
        var fresh = touched.Where(t => t.Bucket.PeriodStart is not null).ToList();
        if (fresh.Count > 0)
        {
            var insert = new NpgsqlBatchCommand("""
                INSERT INTO quota_buckets (id, subscriber_id, kind, granted, used, period_start, period_end, exhausted_at)
                SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::bigint[], $5::bigint[], $6::timestamptz[], $7::timestamptz[], $8::timestamptz[])
                """);
            insert.Parameters.Add(Array(fresh.Select(t => t.Bucket.Id), NpgsqlDbType.Uuid));
            insert.Parameters.Add(Array(fresh.Select(t => t.Subscriber.SubscriberId), NpgsqlDbType.Uuid));
            insert.Parameters.Add(Array(fresh.Select(t => t.Kind), NpgsqlDbType.Text));
            insert.Parameters.Add(Array(fresh.Select(t => t.Bucket.Granted), NpgsqlDbType.Bigint));
            insert.Parameters.Add(Array(fresh.Select(t => t.Bucket.Used), NpgsqlDbType.Bigint));
            insert.Parameters.Add(Array(fresh.Select(t => t.Bucket.PeriodStart!.Value), NpgsqlDbType.TimestampTz));
            insert.Parameters.Add(Array(fresh.Select(t => t.Bucket.PeriodEnd), NpgsqlDbType.TimestampTz));
            insert.Parameters.Add(Array(fresh.Select(t => t.Bucket.ExhaustedAt), NpgsqlDbType.TimestampTz));
            result.Writes.Add(insert);
        }

        // Compare-and-set, in id order (the order every charging transaction takes these row locks in).
        var existing = touched.Where(t => t.Bucket.PeriodStart is null).OrderBy(t => t.Bucket.Id).ToList();
        if (existing.Count > 0)
        {
            var update = new NpgsqlBatchCommand("""
                UPDATE quota_buckets b SET used = u.used, exhausted_at = u.exhausted_at, updated_at = now()
                FROM unnest($1::uuid[], $2::bigint[], $3::timestamptz[], $4::bigint[], $5::timestamptz[]) AS u(id, used, exhausted_at, read_used, read_exhausted_at)
                WHERE b.id = u.id AND b.used = u.read_used AND b.exhausted_at IS NOT DISTINCT FROM u.read_exhausted_at
                """);
            update.Parameters.Add(Array(existing.Select(t => t.Bucket.Id), NpgsqlDbType.Uuid));
            update.Parameters.Add(Array(existing.Select(t => t.Bucket.Used), NpgsqlDbType.Bigint));
            update.Parameters.Add(Array(existing.Select(t => t.Bucket.ExhaustedAt), NpgsqlDbType.TimestampTz));
            update.Parameters.Add(Array(existing.Select(t => t.Bucket.ReadUsed), NpgsqlDbType.Bigint));
            update.Parameters.Add(Array(existing.Select(t => t.Bucket.ReadExhaustedAt), NpgsqlDbType.TimestampTz));
            result.Writes.Add(update);
            result.Checks.Add((update, existing.Count));
        }

        var balances = accounts.Where(a => a.BalanceChanged && a.ReadBalance is not null).OrderBy(a => a.SubscriberId).ToList();
        if (balances.Count > 0)
        {
            var update = new NpgsqlBatchCommand("""
                UPDATE balances b SET amount_micros = u.amount, updated_at = now()
                FROM unnest($1::uuid[], $2::bigint[], $3::bigint[]) AS u(id, amount, read_amount)
                WHERE b.subscriber_id = u.id AND b.amount_micros = u.read_amount
                """);
            update.Parameters.Add(Array(balances.Select(a => a.SubscriberId), NpgsqlDbType.Uuid));
            update.Parameters.Add(Array(balances.Select(a => a.Balance ?? 0), NpgsqlDbType.Bigint));
            update.Parameters.Add(Array(balances.Select(a => a.ReadBalance ?? 0), NpgsqlDbType.Bigint));
            result.Writes.Add(update);
            result.Checks.Add((update, balances.Count));
        }

        if (result.Exhausted.Count > 0)
        {
            var insert = new NpgsqlBatchCommand("""
                INSERT INTO change_requests (id, kind, reason, subscriber_id, session_id, nas_id)
                SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::uuid[], $5::uuid[], $6::text[])
                """);
            insert.Parameters.Add(Array(result.Exhausted.Select(e => e.RequestId), NpgsqlDbType.Uuid));
            insert.Parameters.Add(Array(result.Exhausted.Select(e => e.Plan.Tariff.Exhaustion == ExhaustionAction.Throttle ? "coa" : "disconnect"), NpgsqlDbType.Text));
            insert.Parameters.Add(Array(result.Exhausted.Select(_ => "quota_exhausted"), NpgsqlDbType.Text));
            insert.Parameters.Add(Array(result.Exhausted.Select(e => e.SubscriberId), NpgsqlDbType.Uuid));
            insert.Parameters.Add(Array(result.Exhausted.Select(e => e.Session.Id), NpgsqlDbType.Uuid));
            insert.Parameters.Add(Array(result.Exhausted.Select(e => e.Session.NasId), NpgsqlDbType.Text));
            result.Writes.Add(insert);
        }
    }

    private static string[] RatedPlans(ShardHandle shard) => shard.Plans.Values.Where(p => p.IsRated).Select(p => p.Id).ToArray();

    private static NpgsqlParameter Array<T>(IEnumerable<T> values, NpgsqlDbType type) =>
        new() { Value = values.ToArray(), NpgsqlDbType = NpgsqlDbType.Array | type };

    /// <summary>Accounts read in the group commit's first round trip, and which subscribers were asked for.</summary>
    internal sealed class Prefetched(Dictionary<Guid, Account> accounts, HashSet<Guid> requested)
    {
        public Dictionary<Guid, Account> Accounts { get; } = accounts;

        public HashSet<Guid> Requested { get; } = requested;
    }

    internal sealed class Account(Plan plan, DateTimeOffset createdAt)
    {
        public Plan Plan { get; } = plan;

        public DateTimeOffset CreatedAt { get; } = createdAt;

        public Guid SubscriberId { get; set; }

        public BucketState? Data { get; set; }

        public BucketState? Time { get; set; }

        public long? Balance { get; set; }

        /// <summary>The balance as read: the write applies only where it still holds this.</summary>
        public long? ReadBalance { get; set; }

        public bool BalanceChanged { get; set; }
    }

    /// <summary>A bucket being charged; <see cref="PeriodStart"/> is set only for one this transaction creates.</summary>
    internal sealed class BucketState(Guid id, long granted, long used, DateTimeOffset? exhaustedAt, DateTimeOffset? periodStart, DateTimeOffset? periodEnd)
    {
        public Guid Id { get; } = id;

        public long Granted { get; } = granted;

        public long Used { get; private set; } = used;

        public DateTimeOffset? ExhaustedAt { get; private set; } = exhaustedAt;

        /// <summary>What was read: the write applies only where the row still holds it.</summary>
        public long ReadUsed { get; } = used;

        public DateTimeOffset? ReadExhaustedAt { get; } = exhaustedAt;

        public DateTimeOffset? PeriodStart { get; } = periodStart;

        public DateTimeOffset? PeriodEnd { get; } = periodEnd;

        public bool Changed { get; private set; } = periodStart is not null;

        public Bucket Bucket => new(Granted, Used);

        public void Consume(long amount)
        {
            if (amount > 0)
            {
                Used += amount;
                Changed = true;
            }
        }

        public void MarkExhaustedIfEmpty(DateTimeOffset now)
        {
            if (Used >= Granted && ExhaustedAt is null)
            {
                ExhaustedAt = now;
                Changed = true;
            }
        }
    }
}

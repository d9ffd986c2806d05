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

    /// <summary>The accounts charged: once committed, each holds what its rows now hold.</summary>
    public List<Charger.Account> Charged { get; } = [];
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
    /// <summary>True when the shard has a rated plan: only then does charging read or change anything.</summary>
    public static bool Rates(ShardHandle shard) => shard.Plans.Values.Any(p => p.IsRated);

    /// <summary>
    /// Adds the read charging needs for <paramref name="subscriberIds"/> (each one's plan and, on a rated plan, its
    /// current quota buckets and balance) to the group commit's first round trip; <see cref="ReadPrefetchAsync"/> reads
    /// them back. False when there is nothing to read (no subscriber, or the shard has no rated plan).
    /// </summary>
    public static bool AddPrefetch(NpgsqlBatch batch, ShardHandle shard, Guid[] subscriberIds, DateTimeOffset now)
    {
        var ratedPlans = RatedPlans(shard);
        if (subscriberIds.Length == 0 || ratedPlans.Length == 0)
        {
            return false;
        }

        batch.BatchCommands.Add(AccountRead(subscriberIds, ratedPlans, now));
        return true;
    }

    /// <summary>Reads what <see cref="AddPrefetch"/> asked for (every subscriber found, rated or not); the reader stands before its first result.</summary>
    public static Task<Dictionary<Guid, Account>> ReadPrefetchAsync(NpgsqlDataReader reader, ShardHandle shard, DateTimeOffset now) =>
        ReadAccountsAsync(reader, shard, now);

    /// <summary>
    /// A copy of a remembered account that charging can use without reading it again, or null when it must be read:
    /// <paramref name="remembered"/> was read longer than <paramref name="planAge"/> ago, its plan is gone or changed
    /// between rated and not, or charging could decide something from it that no compare-and-set write would
    /// check — an exhausted bucket or an empty balance is left as it is by the next charge, so it is re-read (a top-up
    /// or a new period may have changed it), and so is a bucket whose period has ended.
    /// </summary>
    public static Account? Reusable(Account remembered, ShardHandle shard, DateTimeOffset now, TimeSpan planAge)
    {
        if (now - remembered.LoadedAt >= planAge || !shard.Plans.TryGetValue(remembered.Plan.Id, out var plan) || plan.IsRated != remembered.Plan.IsRated)
        {
            return null;
        }

        var usable = !plan.IsRated || (Usable(remembered.Data, plan.Tariff.DataQuotaBytes, now) && Usable(remembered.Time, plan.Tariff.TimeQuotaSeconds, now)
            && (!plan.Tariff.IsPriced || remembered is { ReadBalance: not null, Balance: > 0 }));
        if (!usable)
        {
            return null;
        }

        var copy = remembered.Copy(plan, written: false);
        copy.Remembered = true;
        return copy;

        static bool Usable(BucketState? bucket, long? quota, DateTimeOffset now) => quota is null
            ? bucket is null
            : bucket is { ExhaustedAt: null } && bucket.Used < bucket.Granted && (bucket.PeriodEnd is null || bucket.PeriodEnd > now) && !(bucket.PeriodStart > now);
    }

    public static async Task<ChargeResult> ChargeAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, ShardHandle shard,
        List<CdrRow> cdrs, IReadOnlyDictionary<Guid, SessionState> sessions, DateTimeOffset now, Prefetched? prefetched = null)
    {
        var result = new ChargeResult(new List<CdrRow>(cdrs.Count), [], [], []);
        var subscriberIds = cdrs.Where(c => c.SubscriberId is not null).Select(c => c.SubscriberId!.Value).Distinct().ToArray();
        // Only the subscribers with new usage are charged (a duplicate's subscriber was read, and is left as it is).
        var accounts = prefetched?.Accounts.Where(a => a.Value.Plan.IsRated && subscriberIds.Contains(a.Key)).ToDictionary() ?? [];
        // Usually every subscriber was read with the sessions; one whose event did not name it (no Class) is read now.
        var missing = subscriberIds.Where(id => prefetched?.Requested.Contains(id) != true).ToArray();
        if (missing.Length > 0)
        {
            foreach (var (id, account) in await LoadAsync(connection, transaction, shard, missing, now))
            {
                if (account.Plan.IsRated)
                {
                    accounts[id] = account;
                }
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
        result.Charged.AddRange(accounts.Values);
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
        read.BatchCommands.Add(AccountRead(subscriberIds, ratedPlans, now));
        await using var reader = await read.ExecuteReaderAsync();
        return await ReadAccountsAsync(reader, shard, now);
    }

    /// <summary>
    /// The subscribers among <paramref name="subscriberIds"/> with their plan and, on a rated plan, their balance and
    /// current buckets: one row per bucket (or one without), in subscriber order, a later period after an earlier one.
    /// </summary>
    private static NpgsqlBatchCommand AccountRead(Guid[] subscriberIds, string[] ratedPlans, DateTimeOffset now)
    {
        var read = new NpgsqlBatchCommand("""
            SELECT s.id, s.plan_id, s.created_at, b.amount_micros, q.id, q.kind, q.granted, q.used, q.exhausted_at, q.period_end, s.username
            FROM subscribers s
            LEFT JOIN balances b ON b.subscriber_id = s.id AND s.plan_id = ANY($3)
            LEFT JOIN quota_buckets q ON q.subscriber_id = s.id AND s.plan_id = ANY($3) AND q.period_start <= $2 AND (q.period_end IS NULL OR q.period_end > $2)
            WHERE s.id = ANY($1)
            ORDER BY s.id, q.period_start
            """);
        read.Parameters.Add(new() { Value = subscriberIds });
        read.Parameters.Add(new() { Value = now });
        read.Parameters.Add(new() { Value = ratedPlans });
        return read;
    }

    private static async Task<Dictionary<Guid, Account>> ReadAccountsAsync(NpgsqlDataReader reader, ShardHandle shard, DateTimeOffset now)
    {
        var accounts = new Dictionary<Guid, Account>();
        while (await reader.ReadAsync())
        {
            var id = reader.GetGuid(0);
            if (!accounts.TryGetValue(id, out var account))
            {
                if (!shard.Plans.TryGetValue(reader.GetString(1), out var plan))
                {
                    continue;
                }

                account = new Account(plan, reader.GetFieldValue<DateTimeOffset>(2)) { SubscriberId = id, Username = reader.GetString(10), LoadedAt = now };
                if (!reader.IsDBNull(3))
                {
                    account.Balance = account.ReadBalance = reader.GetInt64(3);
                }

                accounts[id] = account;
            }

            if (!reader.IsDBNull(4))
            {
                var state = new BucketState(reader.GetGuid(4), reader.GetInt64(6), reader.GetInt64(7), reader.IsDBNull(8) ? null : reader.GetFieldValue<DateTimeOffset>(8),
                    null, reader.IsDBNull(9) ? null : reader.GetFieldValue<DateTimeOffset>(9));
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
        foreach (var account in accounts.Values.Where(a => a.Plan.IsRated))
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

        // Compare-and-set, in id order (the order every charging transaction takes these row locks in): a bucket is
        // written only where it still holds what charging used, its grant included.
        var existing = touched.Where(t => t.Bucket.PeriodStart is null).OrderBy(t => t.Bucket.Id).ToList();
        if (existing.Count > 0)
        {
            var update = new NpgsqlBatchCommand("""
                UPDATE quota_buckets b SET used = u.used, exhausted_at = u.exhausted_at, updated_at = now()
                FROM unnest($1::uuid[], $2::bigint[], $3::timestamptz[], $4::bigint[], $5::timestamptz[], $6::bigint[]) AS u(id, used, exhausted_at, read_used, read_exhausted_at, granted)
                WHERE b.id = u.id AND b.used = u.read_used AND b.exhausted_at IS NOT DISTINCT FROM u.read_exhausted_at AND b.granted = u.granted
                """);
            update.Parameters.Add(Array(existing.Select(t => t.Bucket.Id), NpgsqlDbType.Uuid));
            update.Parameters.Add(Array(existing.Select(t => t.Bucket.Used), NpgsqlDbType.Bigint));
            update.Parameters.Add(Array(existing.Select(t => t.Bucket.ExhaustedAt), NpgsqlDbType.TimestampTz));
            update.Parameters.Add(Array(existing.Select(t => t.Bucket.ReadUsed), NpgsqlDbType.Bigint));
            update.Parameters.Add(Array(existing.Select(t => t.Bucket.ReadExhaustedAt), NpgsqlDbType.TimestampTz));
            update.Parameters.Add(Array(existing.Select(t => t.Bucket.Granted), NpgsqlDbType.Bigint));
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

    /// <summary>
    /// Accounts known before charging (read in the group commit's first round trip, or remembered from an earlier
    /// one), rated or not, and which subscribers were asked for.
    /// </summary>
    internal sealed class Prefetched(Dictionary<Guid, Account> accounts, HashSet<Guid> requested)
    {
        public Dictionary<Guid, Account> Accounts { get; } = accounts;

        public HashSet<Guid> Requested { get; } = requested;
    }

    /// <summary>A subscriber's plan and, on a rated plan, its balance and current buckets as charging changes them.</summary>
    internal sealed class Account(Plan plan, DateTimeOffset createdAt)
    {
        public Plan Plan { get; } = plan;

        public DateTimeOffset CreatedAt { get; } = createdAt;

        public Guid SubscriberId { get; init; }

        public string Username { get; init; } = "";

        /// <summary>When the subscriber's plan was read from the database.</summary>
        public DateTimeOffset LoadedAt { get; init; }

        /// <summary>True for a copy of what the group commit remembered (<see cref="Reusable"/>), false for one read now.</summary>
        public bool Remembered { get; set; }

        public BucketState? Data { get; set; }

        public BucketState? Time { get; set; }

        public long? Balance { get; set; }

        /// <summary>The balance as read: the write applies only where it still holds this.</summary>
        public long? ReadBalance { get; set; }

        public bool BalanceChanged { get; set; }

        /// <summary>
        /// A copy holding what this account holds now as what was read, on <paramref name="plan"/>. With
        /// <paramref name="written"/> (its writes committed) a bucket this account started exists from now on.
        /// </summary>
        public Account Copy(Plan plan, bool written) => new(plan, CreatedAt)
        {
            SubscriberId = SubscriberId,
            Username = Username,
            LoadedAt = LoadedAt,
            Data = Data?.Copy(written),
            Time = Time?.Copy(written),
            Balance = Balance,
            ReadBalance = written ? ReadBalance is null ? null : Balance : ReadBalance,
        };

        /// <summary>
        /// Takes, in place, what <paramref name="charged"/> (a copy of this account that a commit wrote) holds now, as
        /// <see cref="Copy"/> with <c>written</c> would; false, changing nothing, when its buckets are not this one's.
        /// </summary>
        public bool TakeWritten(Account charged)
        {
            if (charged.Plan.Id != Plan.Id || !BucketState.Same(Data, charged.Data) || !BucketState.Same(Time, charged.Time))
            {
                return false;
            }

            Data?.TakeWritten(charged.Data!);
            Time?.TakeWritten(charged.Time!);
            Balance = charged.Balance;
            ReadBalance = ReadBalance is null ? null : charged.Balance;
            return true;
        }
    }

    /// <summary>A bucket being charged; <see cref="PeriodStart"/> is set only for one this transaction creates.</summary>
    internal sealed class BucketState(Guid id, long granted, long used, DateTimeOffset? exhaustedAt, DateTimeOffset? periodStart, DateTimeOffset? periodEnd)
    {
        public Guid Id { get; } = id;

        public long Granted { get; } = granted;

        public long Used { get; private set; } = used;

        public DateTimeOffset? ExhaustedAt { get; private set; } = exhaustedAt;

        /// <summary>What was read: the write applies only where the row still holds it.</summary>
        public long ReadUsed { get; private set; } = used;

        public DateTimeOffset? ReadExhaustedAt { get; private set; } = exhaustedAt;

        public DateTimeOffset? PeriodStart { get; private set; } = periodStart;

        public DateTimeOffset? PeriodEnd { get; } = periodEnd;

        public bool Changed { get; private set; } = periodStart is not null;

        public Bucket Bucket => new(Granted, Used);

        /// <summary>A copy holding what this bucket holds now as what was read; once <paramref name="written"/>, a new one exists.</summary>
        public BucketState Copy(bool written) => new(Id, Granted, Used, ExhaustedAt, written ? null : PeriodStart, PeriodEnd);

        public static bool Same(BucketState? a, BucketState? b) => a is null ? b is null : b is not null && a.Id == b.Id;

        /// <summary>Takes what <paramref name="written"/> (the same bucket, as a commit wrote it) holds now, in place.</summary>
        public void TakeWritten(BucketState written)
        {
            Used = ReadUsed = written.Used;
            ExhaustedAt = ReadExhaustedAt = written.ExhaustedAt;
            PeriodStart = null;
            Changed = false;
        }

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

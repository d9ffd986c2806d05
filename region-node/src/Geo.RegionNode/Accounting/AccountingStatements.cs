using System.Net;
using Geo.Rating;
using Geo.RegionNode.Shards;
using Npgsql;
using NpgsqlTypes;

namespace Geo.RegionNode.Accounting;

/// <summary>
/// The SQL of a group commit. Each table's column names, <c>unnest($1::type[], …)</c> and parameters come from one
/// <see cref="ColumnList{TRow}"/>, so name and position cannot drift apart; fixed text lets Npgsql prepare it.
/// </summary>
internal static class AccountingStatements
{
    private const string SessionReadColumns =
        "id, nas_id, acct_session_id, subscriber_id, username, state, started_at, last_update_at, stopped_at, terminate_cause, " +
        "input_octets, output_octets, input_packets, output_packets, session_time_s, nas_port, calling_station_id, framed_ip, " +
        "billed_bytes, billed_seconds, exhaustion_applied, xmin";

    private const string FenceSql = "SELECT epoch, pg_current_xact_id() FROM shard_fence FOR SHARE";

    // By key through the (nas_id, acct_session_id) index, never a scan: the cost of a batch must not grow with the sessions table.
    private static readonly string SessionsByKeySql =
        $"SELECT {Prefixed("s.", SessionReadColumns)} FROM unnest($1::text[], $2::text[]) AS k(nas_id, acct_session_id) " +
        "JOIN sessions s ON s.nas_id = k.nas_id AND s.acct_session_id = k.acct_session_id";

    // A NAS restart's open sessions come from their own partial index.
    private const string OpenSessionsOfNasSql = $"SELECT {SessionReadColumns} FROM sessions WHERE state = 'open' AND nas_id = ANY($1::text[])";

    private const string AccountsSql = """
        SELECT s.id, s.plan_id, s.created_at, b.amount_micros, q.id, q.kind, q.granted, q.used, q.exhausted_at, q.period_end, s.username
        FROM subscribers s
        LEFT JOIN balances b ON b.subscriber_id = s.id AND s.plan_id = ANY($3)
        LEFT JOIN quota_buckets q ON q.subscriber_id = s.id AND s.plan_id = ANY($3) AND q.period_start <= $2 AND (q.period_end IS NULL OR q.period_end > $2)
        WHERE s.id = ANY($1)
        ORDER BY s.id, q.period_start
        """;

    private const string SubscribersFoundSql = "SELECT id FROM subscribers WHERE id = ANY($1)";

    private const string SubscribersByNameSql = "SELECT username, id FROM subscribers WHERE username = ANY($1)";

    /// <summary>What a session write sets; the insert adds the session's key, the update the row version it read.</summary>
    private static readonly ColumnList<SessionState> SessionValues = new(
        Column.Of("id", NpgsqlDbType.Uuid, (SessionState s) => s.Id),
        Column.Of("subscriber_id", NpgsqlDbType.Uuid, (SessionState s) => s.SubscriberId),
        Column.Of("username", NpgsqlDbType.Text, (SessionState s) => s.Username),
        Column.Of("nas_port", NpgsqlDbType.Text, (SessionState s) => s.NasPort),
        Column.Of("calling_station_id", NpgsqlDbType.Text, (SessionState s) => s.CallingStationId),
        Column.Of("framed_ip", NpgsqlDbType.Inet, (SessionState s) => s.FramedIp),
        Column.Of("state", NpgsqlDbType.Text, (SessionState s) => s.Open ? "open" : "closed"),
        Column.Of("started_at", NpgsqlDbType.TimestampTz, (SessionState s) => s.StartedAt),
        Column.Of("last_update_at", NpgsqlDbType.TimestampTz, (SessionState s) => s.LastUpdateAt),
        Column.Of("stopped_at", NpgsqlDbType.TimestampTz, (SessionState s) => s.StoppedAt),
        Column.Of("terminate_cause", NpgsqlDbType.Text, (SessionState s) => s.TerminateCause),
        Column.Of("input_octets", NpgsqlDbType.Bigint, (SessionState s) => s.Counters.InputOctets),
        Column.Of("output_octets", NpgsqlDbType.Bigint, (SessionState s) => s.Counters.OutputOctets),
        Column.Of("input_packets", NpgsqlDbType.Bigint, (SessionState s) => s.Counters.InputPackets),
        Column.Of("output_packets", NpgsqlDbType.Bigint, (SessionState s) => s.Counters.OutputPackets),
        Column.Of("session_time_s", NpgsqlDbType.Bigint, (SessionState s) => s.Counters.SessionTime),
        Column.Of("billed_bytes", NpgsqlDbType.Bigint, (SessionState s) => s.BilledBytes),
        Column.Of("billed_seconds", NpgsqlDbType.Bigint, (SessionState s) => s.BilledSeconds),
        Column.Of("exhaustion_applied", NpgsqlDbType.Boolean, (SessionState s) => s.ExhaustionApplied));

    internal static readonly ColumnList<SessionState> NewSessions = SessionValues.With(
        Column.Of("nas_id", NpgsqlDbType.Text, (SessionState s) => s.NasId),
        Column.Of("acct_session_id", NpgsqlDbType.Text, (SessionState s) => s.AcctSessionId));

    internal static readonly ColumnList<SessionState> ChangedSessions = SessionValues.With(
        Column.Of("read_version", NpgsqlDbType.Xid, (SessionState s) => s.ReadVersion));

    internal static readonly ColumnList<CdrRow> Cdrs = new(
        Column.Of("id", NpgsqlDbType.Uuid, (CdrRow c) => c.Id),
        Column.Of("session_id", NpgsqlDbType.Uuid, (CdrRow c) => c.SessionId),
        Column.Of("subscriber_id", NpgsqlDbType.Uuid, (CdrRow c) => c.SubscriberId),
        Column.Of("kind", NpgsqlDbType.Text, (CdrRow c) => c.Kind switch { AccountingKind.Start => "start", AccountingKind.Stop => "stop", _ => "interim" }),
        Column.Of("event_time", NpgsqlDbType.TimestampTz, (CdrRow c) => c.EventTime),
        Column.Of("input_octets", NpgsqlDbType.Bigint, (CdrRow c) => c.Reported.InputOctets),
        Column.Of("output_octets", NpgsqlDbType.Bigint, (CdrRow c) => c.Reported.OutputOctets),
        Column.Of("session_time_s", NpgsqlDbType.Bigint, (CdrRow c) => c.Reported.SessionTime),
        Column.Of("delta_input_octets", NpgsqlDbType.Bigint, (CdrRow c) => c.Delta.InputOctets),
        Column.Of("delta_output_octets", NpgsqlDbType.Bigint, (CdrRow c) => c.Delta.OutputOctets),
        Column.Of("delta_session_time_s", NpgsqlDbType.Bigint, (CdrRow c) => c.Delta.SessionTime),
        Column.Of("flags", NpgsqlDbType.Integer, (CdrRow c) => c.Flags),
        Column.Of("charged_micros", NpgsqlDbType.Bigint, (CdrRow c) => c.ChargedMicros),
        Column.Of("data_used", NpgsqlDbType.Bigint, (CdrRow c) => c.DataUsed),
        Column.Of("time_used", NpgsqlDbType.Bigint, (CdrRow c) => c.TimeUsed),
        Column.Of("rating_marks", NpgsqlDbType.Integer, (CdrRow c) => c.RatingMarks),
        Column.Of("balance_after_micros", NpgsqlDbType.Bigint, (CdrRow c) => c.BalanceAfterMicros));

    internal static readonly ColumnList<BucketWrite> NewBuckets = new(
        Column.Of("id", NpgsqlDbType.Uuid, (BucketWrite b) => b.Bucket.Id),
        Column.Of("subscriber_id", NpgsqlDbType.Uuid, (BucketWrite b) => b.Account.SubscriberId),
        Column.Of("kind", NpgsqlDbType.Text, (BucketWrite b) => b.Kind),
        Column.Of("granted", NpgsqlDbType.Bigint, (BucketWrite b) => b.Bucket.Granted),
        Column.Of("used", NpgsqlDbType.Bigint, (BucketWrite b) => b.Bucket.Used),
        Column.Of("period_start", NpgsqlDbType.TimestampTz, (BucketWrite b) => b.Bucket.PeriodStart!.Value),
        Column.Of("period_end", NpgsqlDbType.TimestampTz, (BucketWrite b) => b.Bucket.PeriodEnd),
        Column.Of("exhausted_at", NpgsqlDbType.TimestampTz, (BucketWrite b) => b.Bucket.ExhaustedAt));

    internal static readonly ColumnList<BucketWrite> ChangedBuckets = new(
        Column.Of("id", NpgsqlDbType.Uuid, (BucketWrite b) => b.Bucket.Id),
        Column.Of("used", NpgsqlDbType.Bigint, (BucketWrite b) => b.Bucket.Used),
        Column.Of("exhausted_at", NpgsqlDbType.TimestampTz, (BucketWrite b) => b.Bucket.ExhaustedAt),
        Column.Of("read_used", NpgsqlDbType.Bigint, (BucketWrite b) => b.Bucket.ReadUsed),
        Column.Of("read_exhausted_at", NpgsqlDbType.TimestampTz, (BucketWrite b) => b.Bucket.ReadExhaustedAt),
        Column.Of("granted", NpgsqlDbType.Bigint, (BucketWrite b) => b.Bucket.Granted));

    internal static readonly ColumnList<ChargingAccount> ChangedBalances = new(
        Column.Of("subscriber_id", NpgsqlDbType.Uuid, (ChargingAccount a) => a.SubscriberId),
        Column.Of("amount_micros", NpgsqlDbType.Bigint, (ChargingAccount a) => a.Balance ?? 0),
        Column.Of("read_amount_micros", NpgsqlDbType.Bigint, (ChargingAccount a) => a.ReadBalance ?? 0));

    internal static readonly ColumnList<ExhaustionRequest> ChangeRequests = new(
        Column.Of("id", NpgsqlDbType.Uuid, (ExhaustionRequest e) => e.RequestId),
        Column.Of("kind", NpgsqlDbType.Text, (ExhaustionRequest e) => e.Plan.Tariff.Exhaustion == ExhaustionAction.Throttle ? "coa" : "disconnect"),
        Column.Of("reason", NpgsqlDbType.Text, (ExhaustionRequest _) => "quota_exhausted"),
        Column.Of("subscriber_id", NpgsqlDbType.Uuid, (ExhaustionRequest e) => e.SubscriberId),
        Column.Of("session_id", NpgsqlDbType.Uuid, (ExhaustionRequest e) => e.Session.Id),
        Column.Of("nas_id", NpgsqlDbType.Text, (ExhaustionRequest e) => e.Session.NasId));

    /// <summary>New sessions: a plain insert, so a session another node inserted first fails it (unique key) and the group commit starts over.</summary>
    internal static readonly string InsertSessionsSql = NewSessions.InsertInto("sessions");

    /// <summary>
    /// Sessions this transaction read, written only where the row is still the version read (its xmin): one that another
    /// transaction changed in between is left as it is, and the group commit starts over.
    /// </summary>
    internal static readonly string UpdateSessionsSql =
        $"UPDATE sessions AS s SET {ChangedSessions.Assignments("u", "id", "started_at", "read_version")} " +
        $"FROM {ChangedSessions.Unnest("u")} WHERE s.id = u.id AND s.xmin = u.read_version";

    internal static readonly string InsertCdrsSql = Cdrs.InsertInto("cdrs");

    internal static readonly string InsertBucketsSql = NewBuckets.InsertInto("quota_buckets");

    /// <summary>A bucket is written only where it still holds what charging used, its grant included.</summary>
    internal static readonly string UpdateBucketsSql =
        $"UPDATE quota_buckets b SET {ChangedBuckets.Assignments("u", "id", "read_used", "read_exhausted_at", "granted")}, updated_at = now() " +
        $"FROM {ChangedBuckets.Unnest("u")} " +
        "WHERE b.id = u.id AND b.used = u.read_used AND b.exhausted_at IS NOT DISTINCT FROM u.read_exhausted_at AND b.granted = u.granted";

    internal static readonly string UpdateBalancesSql =
        $"UPDATE balances b SET {ChangedBalances.Assignments("u", "subscriber_id", "read_amount_micros")}, updated_at = now() " +
        $"FROM {ChangedBalances.Unnest("u")} WHERE b.subscriber_id = u.subscriber_id AND b.amount_micros = u.read_amount_micros";

    internal static readonly string InsertChangeRequestsSql = ChangeRequests.InsertInto("change_requests");

    /// <summary>The shard's fence (FOR SHARE) and the transaction's id: the first result of the group commit's read.</summary>
    public static NpgsqlBatchCommand Fence() => new(FenceSql);

    public static NpgsqlBatchCommand SessionsByKey(string[] nasIds, string[] acctSessionIds) => Command(SessionsByKeySql, nasIds, acctSessionIds);

    public static NpgsqlBatchCommand OpenSessionsOfNas(string[] nasIds) => Command(OpenSessionsOfNasSql, nasIds);

    /// <summary>
    /// The subscribers among <paramref name="subscriberIds"/> with their plan and, on a rated plan, their balance and
    /// current buckets: one row per bucket (or one without), in subscriber order, a later period after an earlier one.
    /// </summary>
    public static NpgsqlBatchCommand Accounts(Guid[] subscriberIds, string[] ratedPlans, DateTimeOffset now) => Command(AccountsSql, subscriberIds, now, ratedPlans);

    /// <summary>Which of <paramref name="subscriberIds"/> the shard holds.</summary>
    public static NpgsqlBatchCommand SubscribersFound(Guid[] subscriberIds) => Command(SubscribersFoundSql, subscriberIds);

    /// <summary>The subscribers the shard holds under <paramref name="usernames"/>: (username, id) rows.</summary>
    public static NpgsqlBatchCommand SubscribersByName(string[] usernames) => Command(SubscribersByNameSql, usernames);

    /// <summary>
    /// Adds the plan's writes to <paramref name="batch"/>; each compare-and-set write goes to <paramref name="checks"/>
    /// with the rows it must change. New sessions before updated ones: the replica then receives one run of inserts and
    /// one of updates, each applied set-based.
    /// </summary>
    public static void AddWrites(NpgsqlBatch batch, BatchPlan plan, List<(NpgsqlBatchCommand Command, int Rows)> checks)
    {
        Add(batch, NewBuckets, InsertBucketsSql, plan.NewBuckets, null);
        Add(batch, ChangedBuckets, UpdateBucketsSql, plan.ChangedBuckets, checks);
        Add(batch, ChangedBalances, UpdateBalancesSql, plan.ChangedBalances, checks);
        Add(batch, ChangeRequests, InsertChangeRequestsSql, plan.Exhausted, null);
        Add(batch, NewSessions, InsertSessionsSql, plan.NewSessions, null);
        Add(batch, ChangedSessions, UpdateSessionsSql, plan.ChangedSessions, checks);
        Add(batch, Cdrs, InsertCdrsSql, plan.Cdrs, null);
    }

    private static void Add<TRow>(NpgsqlBatch batch, ColumnList<TRow> columns, string sql, List<TRow> rows, List<(NpgsqlBatchCommand, int)>? checks)
    {
        if (rows.Count == 0)
        {
            return;
        }

        var command = columns.Command(sql, rows);
        batch.BatchCommands.Add(command);
        checks?.Add((command, rows.Count));
    }

    /// <summary>A session row as <see cref="SessionsByKey"/> and <see cref="OpenSessionsOfNas"/> return it.</summary>
    public static SessionState ReadSession(NpgsqlDataReader reader)
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

    /// <summary>
    /// Reads what <see cref="Accounts"/> returns (every subscriber found, rated or not; one on a plan the shard's catalog does
    /// not know yet is only added to <paramref name="found"/>); the reader stands before that result.
    /// </summary>
    public static async Task<Dictionary<Guid, ChargingAccount>> ReadAccountsAsync(NpgsqlDataReader reader, ShardHandle shard, DateTimeOffset now, HashSet<Guid>? found = null)
    {
        var accounts = new Dictionary<Guid, ChargingAccount>();
        while (await reader.ReadAsync())
        {
            var id = reader.GetGuid(0);
            found?.Add(id);
            if (!accounts.TryGetValue(id, out var account))
            {
                if (!shard.Plans.TryGetValue(reader.GetString(1), out var plan))
                {
                    continue;
                }

                account = new ChargingAccount(plan, reader.GetFieldValue<DateTimeOffset>(2)) { SubscriberId = id, Username = reader.GetString(10), LoadedAt = now };
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

        foreach (var account in accounts.Values)
        {
            account.OpenCurrentPeriod(now);
        }

        return accounts;
    }

    // Positional parameters in order. No params array: a string[] argument would be taken for the array of parameters itself.
    private static NpgsqlBatchCommand Command(string sql, object first, object? second = null, object? third = null)
    {
        var command = new NpgsqlBatchCommand(sql);
        command.Parameters.Add(new() { Value = first });
        if (second is not null)
        {
            command.Parameters.Add(new() { Value = second });
        }

        if (third is not null)
        {
            command.Parameters.Add(new() { Value = third });
        }

        return command;
    }

    private static string Prefixed(string prefix, string columns) => string.Join(", ", columns.Split(", ").Select(c => prefix + c));
}

/// <summary>
/// The columns of one set-based statement, in order. The statement's column names, its
/// <c>unnest($1::type[], $2::type[], …)</c> and its command's parameters are all generated from this one list.
/// </summary>
internal sealed class ColumnList<TRow>
{
    private readonly Column<TRow>[] _columns;

    public ColumnList(params Column<TRow>[] columns)
    {
        _columns = columns;
        Names = string.Join(", ", Array.ConvertAll(columns, c => c.Name));
    }

    public IReadOnlyList<Column<TRow>> Columns => _columns;

    /// <summary>The column names, comma-separated, in order.</summary>
    public string Names { get; }

    /// <summary>This list followed by <paramref name="more"/>.</summary>
    public ColumnList<TRow> With(params Column<TRow>[] more) => new([.. _columns, .. more]);

    /// <summary><c>unnest($1::uuid[], …)</c>, with <c>AS alias(names)</c> when an alias is given.</summary>
    public string Unnest(string? alias = null)
    {
        var arrays = new string[_columns.Length];
        for (var i = 0; i < arrays.Length; i++)
        {
            arrays[i] = $"${i + 1}::{_columns[i].SqlType}[]";
        }

        var unnest = $"unnest({string.Join(", ", arrays)})";
        return alias is null ? unnest : $"{unnest} AS {alias}({Names})";
    }

    /// <summary><c>INSERT INTO table (names) SELECT * FROM unnest(…)</c>.</summary>
    public string InsertInto(string table) => $"INSERT INTO {table} ({Names}) SELECT * FROM {Unnest()}";

    /// <summary><c>name = source.name</c> for every column but <paramref name="except"/>.</summary>
    public string Assignments(string source, params string[] except)
    {
        var assignments = new List<string>(_columns.Length);
        foreach (var column in _columns)
        {
            if (Array.IndexOf(except, column.Name) < 0)
            {
                assignments.Add($"{column.Name} = {source}.{column.Name}");
            }
        }

        return string.Join(", ", assignments);
    }

    /// <summary>The command for <paramref name="sql"/> (built from this list) with one array parameter per column, in order.</summary>
    public NpgsqlBatchCommand Command(string sql, List<TRow> rows)
    {
        var command = new NpgsqlBatchCommand(sql);
        foreach (var column in _columns)
        {
            command.Parameters.Add(column.Parameter(rows));
        }

        return command;
    }
}

/// <summary>One column of a set-based statement: its name, its PostgreSQL type, and how a row's value is read.</summary>
internal abstract class Column<TRow>(string name, NpgsqlDbType type)
{
    public string Name { get; } = name;

    public NpgsqlDbType Type { get; } = type;

    /// <summary>The type's name in SQL, for the <c>$n::type[]</c> cast.</summary>
    public string SqlType { get; } = type switch
    {
        NpgsqlDbType.Uuid => "uuid",
        NpgsqlDbType.Text => "text",
        NpgsqlDbType.Inet => "inet",
        NpgsqlDbType.TimestampTz => "timestamptz",
        NpgsqlDbType.Bigint => "bigint",
        NpgsqlDbType.Integer => "int",
        NpgsqlDbType.Boolean => "boolean",
        NpgsqlDbType.Xid => "xid",
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "no SQL name for this type"),
    };

    /// <summary>The column's values of <paramref name="rows"/>, as one array parameter.</summary>
    public abstract NpgsqlParameter Parameter(List<TRow> rows);
}

internal static class Column
{
    public static Column<TRow> Of<TRow, TValue>(string name, NpgsqlDbType type, Func<TRow, TValue> value) => new Column<TRow, TValue>(name, type, value);
}

internal sealed class Column<TRow, TValue>(string name, NpgsqlDbType type, Func<TRow, TValue> value) : Column<TRow>(name, type)
{
    public override NpgsqlParameter Parameter(List<TRow> rows)
    {
        var values = new TValue[rows.Count];
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = value(rows[i]);
        }

        return new NpgsqlParameter { Value = values, NpgsqlDbType = NpgsqlDbType.Array | Type };
    }
}

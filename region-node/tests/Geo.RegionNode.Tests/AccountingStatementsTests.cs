using System.Net;
using System.Text.RegularExpressions;
using Geo.Rating;
using Geo.RegionNode.Accounting;
using Geo.RegionNode.Shards;
using NpgsqlTypes;

namespace Geo.RegionNode.Tests;

public sealed partial class AccountingStatementsTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 1, 12, 0, 0, TimeSpan.Zero);

    public static TheoryData<string> Statements => [.. All().Keys];

    [Theory]
    [MemberData(nameof(Statements))]
    public void Sql_EveryColumnAtItsPosition_NamesAndArrayTypesInTheOrderOfTheParameters(string statement)
    {
        var (sql, names, types) = All()[statement];

        var arrays = ArrayParameter().Matches(sql);
        Assert.Equal(Enumerable.Range(1, names.Count).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)), arrays.Select(m => m.Groups[1].Value));
        Assert.Equal(types, arrays.Select(m => m.Groups[2].Value));
        var listed = ColumnNames().Match(sql);
        Assert.True(listed.Success, sql);
        Assert.Equal(names, listed.Groups[1].Value.Split(", "));
    }

    [Fact]
    public void InsertSessions_EachParameterHoldsTheValueOfItsColumn()
    {
        var session = new SessionState
        {
            Id = Guid.CreateVersion7(), NasId = "nas-7", AcctSessionId = "acct-9", SubscriberId = Guid.CreateVersion7(), Username = "alice", NasPort = "port-3",
            CallingStationId = "00-11-22", FramedIp = IPAddress.Parse("10.0.0.7"), Open = false, StartedAt = T0, LastUpdateAt = T0.AddSeconds(1),
            StoppedAt = T0.AddSeconds(2), TerminateCause = "User-Request", Counters = new Counters(11, 12, 13, 14, 15), BilledBytes = 16, BilledSeconds = 17,
            ExhaustionApplied = true, ReadVersion = 18,
        };
        var expected = new Dictionary<string, object?>
        {
            ["id"] = session.Id, ["nas_id"] = "nas-7", ["acct_session_id"] = "acct-9", ["subscriber_id"] = session.SubscriberId, ["username"] = "alice",
            ["nas_port"] = "port-3", ["calling_station_id"] = "00-11-22", ["framed_ip"] = IPAddress.Parse("10.0.0.7"), ["state"] = "closed",
            ["started_at"] = T0, ["last_update_at"] = T0.AddSeconds(1), ["stopped_at"] = T0.AddSeconds(2), ["terminate_cause"] = "User-Request",
            ["input_octets"] = 11L, ["output_octets"] = 12L, ["input_packets"] = 13L, ["output_packets"] = 14L, ["session_time_s"] = 15L,
            ["billed_bytes"] = 16L, ["billed_seconds"] = 17L, ["exhaustion_applied"] = true, ["read_version"] = 18u,
        };

        AssertValues(AccountingStatements.NewSessions, AccountingStatements.InsertSessionsSql, session, expected);
        AssertValues(AccountingStatements.ChangedSessions, AccountingStatements.UpdateSessionsSql, session, expected);
    }

    [Fact]
    public void InsertCdrs_EachParameterHoldsTheValueOfItsColumn()
    {
        var cdr = new CdrRow(Guid.CreateVersion7(), Guid.CreateVersion7(), Guid.CreateVersion7(), AccountingKind.Stop, T0, new Counters(1, 2, 3, 4, 5), new Counters(6, 7, 8, 9, 10), 3)
        {
            ChargedMicros = 11, BalanceAfterMicros = 12, DataUsed = 13, TimeUsed = 14, RatingMarks = 15,
        };
        var expected = new Dictionary<string, object?>
        {
            ["id"] = cdr.Id, ["session_id"] = cdr.SessionId, ["subscriber_id"] = cdr.SubscriberId, ["kind"] = "stop", ["event_time"] = T0,
            ["input_octets"] = 1L, ["output_octets"] = 2L, ["session_time_s"] = 5L, ["delta_input_octets"] = 6L, ["delta_output_octets"] = 7L,
            ["delta_session_time_s"] = 10L, ["flags"] = 3, ["charged_micros"] = 11L, ["data_used"] = 13L, ["time_used"] = 14L, ["rating_marks"] = 15,
            ["balance_after_micros"] = 12L,
        };

        AssertValues(AccountingStatements.Cdrs, AccountingStatements.InsertCdrsSql, cdr, expected);
    }

    [Fact]
    public void ChargingWrites_EachParameterHoldsTheValueOfItsColumn()
    {
        var plan = new Plan("p", null, null, null, 300, 1, null, new Tariff(1_000, null, 1, 0, false, ExhaustionAction.Throttle), null, null, null, null);
        var account = new ChargingAccount(plan, T0) { SubscriberId = Guid.CreateVersion7(), Balance = 40, ReadBalance = 50 };
        var bucket = new BucketState(Guid.CreateVersion7(), 1_000, 300, null, T0, T0.AddDays(30));
        bucket.Consume(700);
        bucket.MarkExhaustedIfEmpty(T0.AddHours(1));
        var write = new BucketWrite(account, bucket, "data");
        var session = new SessionState { Id = Guid.CreateVersion7(), NasId = "nas-7", AcctSessionId = "acct-9", Username = "alice" };
        var request = new ExhaustionRequest(Guid.CreateVersion7(), session, account.SubscriberId, plan);

        AssertValues(AccountingStatements.NewBuckets, AccountingStatements.InsertBucketsSql, write, new()
        {
            ["id"] = bucket.Id, ["subscriber_id"] = account.SubscriberId, ["kind"] = "data", ["granted"] = 1_000L, ["used"] = 1_000L,
            ["period_start"] = T0, ["period_end"] = T0.AddDays(30), ["exhausted_at"] = T0.AddHours(1),
        });
        AssertValues(AccountingStatements.ChangedBuckets, AccountingStatements.UpdateBucketsSql, write, new()
        {
            ["id"] = bucket.Id, ["used"] = 1_000L, ["exhausted_at"] = T0.AddHours(1), ["read_used"] = 300L, ["read_exhausted_at"] = null, ["granted"] = 1_000L,
        });
        AssertValues(AccountingStatements.ChangedBalances, AccountingStatements.UpdateBalancesSql, account, new()
        {
            ["subscriber_id"] = account.SubscriberId, ["amount_micros"] = 40L, ["read_amount_micros"] = 50L,
        });
        AssertValues(AccountingStatements.ChangeRequests, AccountingStatements.InsertChangeRequestsSql, request, new()
        {
            ["id"] = request.RequestId, ["kind"] = "coa", ["reason"] = "quota_exhausted", ["subscriber_id"] = account.SubscriberId, ["session_id"] = session.Id,
            ["nas_id"] = "nas-7",
        });
    }

    [Fact]
    public void UpdateSessions_ComparesTheRowVersionAndNeverMovesTheStart()
    {
        var sql = AccountingStatements.UpdateSessionsSql;

        Assert.Contains("WHERE s.id = u.id AND s.xmin = u.read_version", sql, StringComparison.Ordinal);
        Assert.DoesNotContain("started_at = ", sql, StringComparison.Ordinal);
        Assert.DoesNotContain("SET id = ", sql, StringComparison.Ordinal);
        Assert.DoesNotContain("read_version = ", sql, StringComparison.Ordinal);
        Assert.Contains("exhaustion_applied = u.exhaustion_applied", sql, StringComparison.Ordinal);
    }

    [Fact]
    public void ChargingUpdates_CompareWhatWasRead()
    {
        Assert.Contains("SET used = u.used, exhausted_at = u.exhausted_at, updated_at = now()", AccountingStatements.UpdateBucketsSql, StringComparison.Ordinal);
        Assert.Contains("b.used = u.read_used AND b.exhausted_at IS NOT DISTINCT FROM u.read_exhausted_at AND b.granted = u.granted", AccountingStatements.UpdateBucketsSql,
            StringComparison.Ordinal);
        Assert.Contains("SET amount_micros = u.amount_micros, updated_at = now()", AccountingStatements.UpdateBalancesSql, StringComparison.Ordinal);
        Assert.Contains("b.amount_micros = u.read_amount_micros", AccountingStatements.UpdateBalancesSql, StringComparison.Ordinal);
    }

    private static void AssertValues<TRow>(ColumnList<TRow> columns, string sql, TRow row, Dictionary<string, object?> expected)
    {
        var command = columns.Command(sql, [row]);

        Assert.Equal(columns.Columns.Count, command.Parameters.Count);
        for (var i = 0; i < columns.Columns.Count; i++)
        {
            var column = columns.Columns[i];
            var parameter = command.Parameters[i];
            Assert.Equal(NpgsqlDbType.Array | column.Type, parameter.NpgsqlDbType);
            Assert.True(expected.TryGetValue(column.Name, out var value), column.Name);
            Assert.Equal(value, ((Array)parameter.Value!).GetValue(0));
        }
    }

    private static Dictionary<string, (string Sql, List<string> Names, List<string> Types)> All()
    {
        return new()
        {
            ["insert sessions"] = Of(AccountingStatements.InsertSessionsSql, AccountingStatements.NewSessions),
            ["update sessions"] = Of(AccountingStatements.UpdateSessionsSql, AccountingStatements.ChangedSessions),
            ["insert cdrs"] = Of(AccountingStatements.InsertCdrsSql, AccountingStatements.Cdrs),
            ["insert buckets"] = Of(AccountingStatements.InsertBucketsSql, AccountingStatements.NewBuckets),
            ["update buckets"] = Of(AccountingStatements.UpdateBucketsSql, AccountingStatements.ChangedBuckets),
            ["update balances"] = Of(AccountingStatements.UpdateBalancesSql, AccountingStatements.ChangedBalances),
            ["insert change requests"] = Of(AccountingStatements.InsertChangeRequestsSql, AccountingStatements.ChangeRequests),
        };

        static (string, List<string>, List<string>) Of<TRow>(string sql, ColumnList<TRow> columns) =>
            (sql, [.. columns.Columns.Select(c => c.Name)], [.. columns.Columns.Select(c => c.SqlType)]);
    }

    [GeneratedRegex(@"\$(\d+)::(\w+)\[\]")]
    private static partial Regex ArrayParameter();

    // The column list of an INSERT INTO t (…) or of an unnest(…) AS u(…).
    [GeneratedRegex(@"(?:INSERT INTO \w+ |\) AS u)\(([\w, ]+)\)")]
    private static partial Regex ColumnNames();
}

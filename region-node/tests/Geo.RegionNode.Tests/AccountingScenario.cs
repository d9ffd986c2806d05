using Geo.Rating;
using Geo.RegionNode.Accounting;
using Geo.RegionNode.Shards;

namespace Geo.RegionNode.Tests;

/// <summary>
/// Drives <see cref="BatchPlanner"/> the way a shard's group commits do, without a database: each batch starts from
/// what the previous one committed (sessions and the account as their rows would hold them) and adds up its CDRs.
/// </summary>
internal sealed class AccountingScenario
{
    public static readonly DateTimeOffset T0 = new(2026, 11, 1, 12, 0, 0, TimeSpan.Zero);

    public static readonly Guid Subscriber = new("0193a000-0000-7000-8000-000000000001");

    private Dictionary<(string NasId, string AcctSessionId), SessionState> _rows = [];

    public AccountingScenario(Plan plan, long? balance, long? dataBucketUsed = null)
    {
        Account = new ChargingAccount(plan, T0.AddDays(-3)) { SubscriberId = Subscriber, Username = "alice", LoadedAt = T0, Balance = balance, ReadBalance = balance };
        if (plan.Tariff.DataQuotaBytes is { } granted && dataBucketUsed is { } used)
        {
            Account.Data = new BucketState(Guid.CreateVersion7(), granted, used, null, null, T0.AddDays(30));
        }

        Account.OpenCurrentPeriod(T0);
    }

    /// <summary>The account as its rows hold it after the last committed batch.</summary>
    public ChargingAccount Account { get; private set; }

    public List<CdrRow> Cdrs { get; } = [];

    public List<BatchPlan> Plans { get; } = [];

    public IReadOnlyDictionary<(string NasId, string AcctSessionId), SessionState> Sessions => _rows;

    public long Charged => Cdrs.Sum(c => c.ChargedMicros);

    public long DataUsed => Cdrs.Sum(c => c.DataUsed);

    /// <summary>Plans one batch from what is committed, then commits it.</summary>
    public BatchPlan Commit(params AccountingWork[] work)
    {
        var sessions = new Dictionary<(string NasId, string AcctSessionId), SessionState>();
        foreach (var (key, row) in _rows)
        {
            sessions[key] = row.Copy(row.ReadVersion);
        }

        var charging = Account.Copy(Account.Plan, written: false);
        var plan = BatchPlanner.Accumulate(work, sessions);
        BatchPlanner.Charge(plan, new Dictionary<Guid, ChargingAccount> { [Subscriber] = charging }, T0);

        _rows = [];
        foreach (var (key, session) in plan.Sessions)
        {
            _rows[key] = session.Copy(session.ReadVersion + 1);
        }

        Account = charging.Copy(charging.Plan, written: true);
        Cdrs.AddRange(plan.Cdrs);
        Plans.Add(plan);
        return plan;
    }

    public static Plan Plan(Tariff tariff) => new("plan", null, null, null, 300, 1, null, tariff, null, null, null, null);

    public static AccountingWork Event(AccountingKind kind, long inputOctets, long sessionTime, string session = "s-1", string nas = "nas-1") =>
        new(new AccountingEvent(kind, nas, session, "alice", Subscriber, T0.AddSeconds(sessionTime), new Counters(inputOctets, 0, 0, 0, sessionTime), null, null, null,
            kind == AccountingKind.Stop ? "User-Request" : null), null);

    public static AccountingWork Restart(string nas) => new(null, new NasRestart(nas, T0.AddHours(1), "NAS-Reboot (Accounting-On)"));
}

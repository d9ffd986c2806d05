namespace Geo.Ctl.Drill;

/// <summary>The failure a drill applies.</summary>
internal enum DrillScenario
{
    /// <summary>SIGKILL of the region's node and PostgreSQL (the site lost); promote, restore, rejoin, fail back.</summary>
    KillRegion,

    /// <summary>SIGKILL of the region's PostgreSQL only: its node lives on without a database; promote, restore, rejoin, fail back.</summary>
    KillDatabase,

    /// <summary>
    /// The region cut off: its node, replicator, Redis and PostgreSQL frozen (SIGSTOP), so neither the directory, nor the other
    /// region, nor its NAS hear from it, and it resumes (SIGCONT) where it stopped, unaware that time passed; promote, thaw,
    /// rejoin, fail back.
    /// </summary>
    Partition,

    /// <summary>A planned switchover of the region's shards to their standby, then failback: nothing may be lost.</summary>
    Switchover,
}

/// <summary>What <c>geoctl drill</c> was asked to do.</summary>
/// <param name="Scenario">The failure to apply.</param>
/// <param name="Region">The region to fail: its own shards, and the NAS whose primary it is.</param>
/// <param name="Rate">Accounting requests a second over all the region's NAS.</param>
/// <param name="AuthRate">Logins (Access-Requests) a second; each accepted one runs a session of Rate / AuthRate accounting requests.</param>
/// <param name="Duration">At least this long under load; the load goes on until the whole cycle (fault to failback) is over.</param>
/// <param name="AutoPromote">Wait for automatic failover instead of running <c>dr promote</c>.</param>
/// <param name="OutDirectory">Where the report goes.</param>
internal sealed record DrillOptions(DrillScenario Scenario, string Region, int Rate, int AuthRate, TimeSpan Duration, bool AutoPromote, string OutDirectory)
{
    /// <summary>When the fault is applied (default: a quarter of the duration, at least 5 s).</summary>
    public TimeSpan? FaultAt { get; init; }

    /// <summary>How long the operator takes to run <c>dr promote</c> after the fault (manual promotion).</summary>
    public TimeSpan PromoteDelay { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How long the drill waits for automatic failover before it gives up.</summary>
    public TimeSpan AutoPromoteWait { get; init; } = TimeSpan.FromSeconds(120);

    /// <summary>How long the load runs at the new owner before the region is restored.</summary>
    public TimeSpan Hold { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Time between a session's accounting requests.</summary>
    public TimeSpan Interval { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Pass limit: seconds from the fault to the first Access-Accept through the backup.</summary>
    public double MaxRtoSeconds { get; init; } = 10;

    /// <summary>Pass limit: seconds of acknowledged accounting lost at the promotion (measured).</summary>
    public double MaxRpoSeconds { get; init; } = 1;

    /// <summary>Only this tenant's shards are drilled (required against a deployment: its test tenant).</summary>
    public string? Tenant { get; init; }

    /// <summary>The shared secret of the tenant's NAS; null: the local stack's demo secret of each NAS.</summary>
    public string? NasSecretFile { get; init; }

    /// <summary>The subscribers the NAS log in as (CSV <c>username,password</c> after a header line); null: the local stack's demo credentials.</summary>
    public string? SubscribersFile { get; init; }

    public TimeSpan EffectiveFaultAt => FaultAt ?? TimeSpan.FromSeconds(Math.Max(5, Duration.TotalSeconds / 4));

    /// <summary>Interim-Updates per session so that logins × (interims + Start + Stop) ≈ the accounting rate.</summary>
    public int Interims => Math.Max(0, (int)Math.Round(Rate / (double)AuthRate) - 2);

    public static string Name(DrillScenario scenario) => scenario switch
    {
        DrillScenario.KillRegion => "kill-region",
        DrillScenario.KillDatabase => "kill-database",
        DrillScenario.Partition => "partition",
        _ => "switchover",
    };

    /// <summary>Every scenario's name, as <c>--scenario</c> takes it.</summary>
    public static IEnumerable<string> Names => Enum.GetValues<DrillScenario>().Select(Name);

    /// <summary>The scenario a name (one of <see cref="Names"/>) stands for.</summary>
    public static DrillScenario Parse(string name) => Enum.GetValues<DrillScenario>().Single(s => Name(s) == name);
}

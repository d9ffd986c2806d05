using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Geo.Radius;

namespace Geo.Ctl.Drill;

/// <summary>The RPO of one shard at its promotion: measured from the drill's records and the new owner's database, and as the promotion estimated it.</summary>
/// <param name="Shard">The shard (tenant@home).</param>
/// <param name="Acknowledged">Accounting requests the old owner acknowledged before the fault.</param>
/// <param name="Missing">Of those, how many the new owner did not have right after the promotion.</param>
/// <param name="Seconds">From the last acknowledged request the new owner had to the last it lacked (0 when it lacked none).</param>
/// <param name="EstimatedSeconds">The promotion's estimate (null when it could not estimate).</param>
/// <param name="EstimateBasis">How the promotion came to its estimate, in its words.</param>
internal sealed record RpoMeasurement(string Shard, int Acknowledged, int Missing, double Seconds, double? EstimatedSeconds, string? EstimateBasis)
{
    /// <summary>The estimate within ±20 % of the measured RPO, or within 50 ms when that is under 250 ms.</summary>
    public bool EstimateAgrees => EstimatedSeconds is { } estimate &&
        Math.Abs(estimate - Seconds) <= (Seconds < 0.25 ? 0.05 : 0.2 * Seconds) + 1e-9;
}

/// <summary>A geoctl command the drill ran: when (seconds from the start), its exit code and how long it took.</summary>
internal sealed record CommandSummary(string Command, int ExitCode, double StartedAt, double Seconds);

/// <summary>One invariant or limit of the drill and whether it held.</summary>
internal sealed record DrillCheck(string Name, bool Passed, string Detail);

/// <summary>Requests of one kind: sent, answered, rejected, unanswered; latency from release to answer (retries and failover included).</summary>
internal sealed record RequestTally(int Sent, int Answered, int Rejected, int Unanswered, double P50Ms, double P99Ms, double MaxMs);

/// <summary>What a drill did and measured: written as report.md, report.json and timeline.svg, summarized on one screen.</summary>
internal sealed class DrillReport
{
    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public required string Scenario { get; init; }

    public required string Region { get; init; }

    public required string Standby { get; init; }

    public required IReadOnlyList<string> Shards { get; init; }

    public required IReadOnlyList<string> Nas { get; init; }

    public required string RunId { get; init; }

    public required DateTimeOffset StartedAt { get; init; }

    /// <summary>manual, auto or switchover.</summary>
    public required string Promotion { get; init; }

    public required int LoginsPerSecond { get; init; }

    public required int AccountingPerSecond { get; init; }

    public required int Interims { get; init; }

    public required double MaxRtoSeconds { get; init; }

    public required double MaxRpoSeconds { get; init; }

    public double DurationSeconds { get; private set; }

    /// <summary>When the fault was applied (the switchover started), seconds from the start.</summary>
    public double? FaultAt { get; set; }

    /// <summary>When the shards were served at their new owner (the promotion or switchover done).</summary>
    public double? OwnerServingAt { get; set; }

    /// <summary>Seconds from the fault to the first Access-Accept through the NAS's backup endpoint.</summary>
    public double? RtoBackupSeconds { get; private set; }

    /// <summary>Seconds from the fault to the shards served at their new owner.</summary>
    public double? RtoOwnerSeconds { get; private set; }

    public List<RpoMeasurement> Rpo { get; } = [];

    /// <summary>Acknowledged accounting missing at the new owner after the rejoin (null: no rejoin in this scenario).</summary>
    public long? MissingAfterRejoin { get; set; }

    /// <summary>Acknowledged accounting missing at the home owner at the end.</summary>
    public long MissingAtEnd { get; set; }

    /// <summary>Acknowledged accounting a survivability journal still held after the rejoin (durable there, not at the owner yet).</summary>
    public long? HeldInJournalsAfterRejoin { get; set; }

    /// <summary>Acknowledged accounting a survivability journal still held at the end.</summary>
    public long HeldInJournalsAtEnd { get; set; }

    /// <summary>Sessions charged more than their NAS reported.</summary>
    public List<string> DoubleCharged { get; } = [];

    /// <summary>Why the cycle stopped before its end (a runbook step failed), if it did.</summary>
    public string? Aborted { get; set; }

    public int CheckLedgerExit { get; set; } = -1;

    public int VerifyExit { get; set; } = -1;

    public RequestTally? Logins { get; private set; }

    public RequestTally? Accounting { get; private set; }

    public IReadOnlyDictionary<string, int> AnsweredByRegion { get; private set; } = new Dictionary<string, int>();

    public IReadOnlyList<TimelineMarker> Markers { get; private set; } = [];

    public IReadOnlyList<CommandSummary> Commands { get; private set; } = [];

    public IReadOnlyList<DrillCheck> Checks { get; private set; } = [];

    [JsonIgnore]
    public IReadOnlyList<TimelineBucket> Timeline { get; private set; } = [];

    public bool Passed => Checks.Count > 0 && Checks.All(c => c.Passed);

    private string _rejectDetail = "";

    /// <summary>Computes the figures from the drill's records and decides every check.</summary>
    public void Complete(IReadOnlyList<DrillRequest> requests, IReadOnlyList<TimelineMarker> markers, IReadOnlyDictionary<int, double> lag,
        IReadOnlyList<GeoctlRun> commands, DrillOptions options)
    {
        DurationSeconds = requests.Select(r => r.AnsweredAt ?? r.SentAt).DefaultIfEmpty(0).Max();
        Logins = Tally(requests.Where(r => r.Kind == RequestKind.Login).ToList());
        Accounting = Tally(requests.Where(r => r.IsAccounting).ToList());
        AnsweredByRegion = requests.Where(r => r.AnsweredBy is not null).GroupBy(r => r.AnsweredBy!)
            .OrderBy(g => g.Key, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count());
        Markers = [.. markers.OrderBy(m => m.AtSeconds)];
        Commands = [.. commands.Select(c => new CommandSummary(c.Command, c.ExitCode, Math.Round(c.StartedAt, 2), Math.Round(c.Took.TotalSeconds, 2)))];
        if (FaultAt is { } fault && Scenario != "switchover")
        {
            var first = requests.Where(r => r.Kind == RequestKind.Login && r.AnsweredBy == Standby && r.Code == (byte)RadiusCode.AccessAccept && r.AnsweredAt > fault)
                .Select(r => r.AnsweredAt!.Value).DefaultIfEmpty(double.NaN).Min();
            RtoBackupSeconds = double.IsNaN(first) ? null : first - fault;
        }

        RtoOwnerSeconds = OwnerServingAt - FaultAt;
        Timeline = Buckets(requests, lag);
        var rejects = requests.Where(r => r.Code == (byte)RadiusCode.AccessReject).ToList();
        _rejectDetail = rejects.Count == 0 ? "" : $" ({string.Join(", ", rejects.GroupBy(r => r.AnsweredBy).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => $"{g.Count():N0} by region {g.Key}"))}; " +
            $"from {rejects.Min(r => r.AnsweredAt):F1} s to {rejects.Max(r => r.AnsweredAt):F1} s; e.g. {string.Join(", ", rejects.Take(3).Select(r => r.Username))})";
        Checks = Decide(options);
    }

    private static RequestTally Tally(List<DrillRequest> requests)
    {
        var answered = requests.Where(r => r.AnsweredAt is not null).Select(r => (r.AnsweredAt!.Value - r.SentAt) * 1000).Order().ToArray();
        double Percentile(double p) => answered.Length == 0 ? 0 : answered[Math.Min(answered.Length - 1, (int)Math.Ceiling(p * answered.Length) - 1)];
        return new RequestTally(requests.Count, answered.Length, requests.Count(r => r.Code == (byte)RadiusCode.AccessReject),
            requests.Count(r => r.Sends > 0 && r.AnsweredAt is null), Math.Round(Percentile(0.5), 1), Math.Round(Percentile(0.99), 1),
            Math.Round(answered.LastOrDefault(), 1));
    }

    private List<DrillCheck> Decide(DrillOptions options)
    {
        List<DrillCheck> checks =
        [
            new("the whole cycle ran", Aborted is null, Aborted ?? "fault, recovery, rejoin and failback, then the final checks"),
            new("no wrong reject", Logins!.Rejected == 0, $"{Logins.Rejected:N0} valid subscribers rejected{_rejectDetail}"),
            new("nobody charged twice", DoubleCharged.Count == 0,
                DoubleCharged.Count == 0 ? "every session's charged usage equals what its NAS reported" : string.Join("; ", DoubleCharged.Take(5))),
            new("no acknowledged accounting lost", MissingAtEnd == 0 && MissingAfterRejoin is null or 0,
                $"{MissingAfterRejoin?.ToString("N0", CultureInfo.InvariantCulture) ?? "-"} lost at the new owner after the rejoin, {MissingAtEnd:N0} at home at the end" +
                (HeldInJournalsAfterRejoin is > 0 || HeldInJournalsAtEnd > 0
                    ? $" (still held in a survivability journal, not at the owner yet: {HeldInJournalsAfterRejoin ?? 0:N0} after the rejoin, {HeldInJournalsAtEnd:N0} at the end)"
                    : "")),
            new("check-ledger", CheckLedgerExit == 0, $"exit {CheckLedgerExit}"),
            new("verify", VerifyExit == 0, $"exit {VerifyExit}"),
        ];
        if (Scenario == "switchover")
        {
            checks.Add(new("switchover RPO 0", Rpo.All(r => r.Missing == 0), string.Join("; ", Rpo.Select(r => $"{r.Shard}: {r.Missing} of {r.Acknowledged} missing"))));
        }
        else
        {
            checks.Add(new($"RTO through the backup ≤ {options.MaxRtoSeconds:0.#} s", RtoBackupSeconds <= options.MaxRtoSeconds,
                RtoBackupSeconds is { } rto ? $"{rto:F2} s" : "no Access-Accept through the backup after the fault"));
            checks.Add(new($"RPO ≤ {options.MaxRpoSeconds:0.###} s", Rpo.All(r => r.Seconds <= options.MaxRpoSeconds),
                string.Join("; ", Rpo.Select(r => $"{r.Shard}: {r.Seconds * 1000:F0} ms ({r.Missing} requests)"))));
            checks.Add(new("RPO estimate within ±20 % (±50 ms under 250 ms)", Rpo.All(r => r.EstimateAgrees),
                string.Join("; ", Rpo.Select(r => $"{r.Shard}: measured {r.Seconds * 1000:F0} ms, estimated {(r.EstimatedSeconds is { } e ? $"{e * 1000:F0} ms" : "unknown")}"))));
        }

        return checks;
    }

    private List<TimelineBucket> Buckets(IReadOnlyList<DrillRequest> requests, IReadOnlyDictionary<int, double> lag)
    {
        var seconds = (int)Math.Ceiling(DurationSeconds) + 1;
        var answered = new Dictionary<string, int>[seconds];
        var rejected = new int[seconds];
        var unanswered = new int[seconds];
        for (var i = 0; i < seconds; i++)
        {
            answered[i] = AnsweredByRegion.Keys.ToDictionary(k => k, _ => 0, StringComparer.Ordinal);
        }

        foreach (var request in requests)
        {
            if (request.AnsweredAt is { } at && request.AnsweredBy is { } region)
            {
                answered[Math.Min(seconds - 1, (int)at)][region]++;
                if (request.Code == (byte)RadiusCode.AccessReject)
                {
                    rejected[Math.Min(seconds - 1, (int)at)]++;
                }
            }
            else if (request.Sends > 0)
            {
                unanswered[Math.Min(seconds - 1, (int)request.SentAt)]++;
            }
        }

        return [.. Enumerable.Range(0, seconds).Select(i => new TimelineBucket(i, answered[i], rejected[i], unanswered[i], lag.TryGetValue(i, out var l) ? l : null))];
    }

    /// <summary>Writes report.json, report.md, timeline.svg and requests.csv.gz (every request: the drill's raw record).</summary>
    public async Task WriteAsync(string directory, IReadOnlyList<DrillRequest> requests, CancellationToken cancellationToken)
    {
        System.IO.Directory.CreateDirectory(directory);
        await using (var file = File.Create(Path.Combine(directory, "requests.csv.gz")))
        await using (var zip = new System.IO.Compression.GZipStream(file, System.IO.Compression.CompressionLevel.Fastest))
        await using (var csv = new StreamWriter(zip, new UTF8Encoding(false)))
        {
            await csv.WriteLineAsync("kind,nas,username,session,input_octets,sent_at,answered_at,answered_by,code,sends");
            foreach (var r in requests)
            {
                await csv.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                    $"{r.Kind},{r.NasId},{r.Username},{r.SessionId},{r.InputOctets},{r.SentAt:F4},{r.AnsweredAt:F4},{r.AnsweredBy},{r.Code},{r.Sends}"));
            }
        }

        await File.WriteAllTextAsync(Path.Combine(directory, "report.json"), JsonSerializer.Serialize(this, Json), cancellationToken);
        await File.WriteAllTextAsync(Path.Combine(directory, "report.md"), Markdown(), cancellationToken);
        await File.WriteAllTextAsync(Path.Combine(directory, "timeline.svg"),
            TimelineSvg.Render($"geoctl drill {Scenario} of region {Region}: {StartedAt.UtcDateTime:yyyy-MM-dd HH:mm}Z", Timeline, Markers), cancellationToken);
    }

    /// <summary>The one-screen summary, ending with the pass/fail line.</summary>
    public IEnumerable<string> Summary(string directory)
    {
        yield return "";
        yield return $"drill {Scenario} of region {Region} ({string.Join(", ", Shards)}; standby {Standby}), {DurationSeconds:F0} s:";
        yield return $"  logins      {Logins!.Sent,8:N0} sent, {Logins.Answered:N0} answered, {Logins.Rejected:N0} rejected, {Logins.Unanswered:N0} unanswered; p50 {Logins.P50Ms:F1} ms, p99 {Logins.P99Ms:F1} ms, max {Logins.MaxMs:F0} ms";
        yield return $"  accounting  {Accounting!.Sent,8:N0} sent, {Accounting.Answered:N0} acknowledged, {Accounting.Unanswered:N0} unanswered; p50 {Accounting.P50Ms:F1} ms, p99 {Accounting.P99Ms:F1} ms, max {Accounting.MaxMs:F0} ms";
        yield return $"  answered by {string.Join(", ", AnsweredByRegion.Select(p => $"region {p.Key} {p.Value:N0}"))}";
        if (Scenario == "switchover")
        {
            yield return $"  switchover  shards served at {Standby} {Seconds(RtoOwnerSeconds)} after it started; slowest answer {Math.Max(Logins.MaxMs, Accounting.MaxMs):F0} ms";
        }
        else
        {
            yield return $"  RTO         first accept through the backup {Seconds(RtoBackupSeconds)} after the fault; shards served at {Standby} after {Seconds(RtoOwnerSeconds)}";
        }

        foreach (var rpo in Rpo)
        {
            yield return $"  RPO         {rpo.Shard}: {rpo.Missing:N0} of {rpo.Acknowledged:N0} acknowledged requests missing at the new owner ({rpo.Seconds * 1000:F0} ms); estimate {(rpo.EstimatedSeconds is { } e ? $"{e * 1000:F0} ms" : "unknown")}";
        }

        foreach (var check in Checks)
        {
            yield return $"  {(check.Passed ? "ok  " : "FAIL")}  {check.Name}: {check.Detail}";
        }

        yield return $"  report: {Path.Combine(directory, "report.md")}, report.json, timeline.svg";
        yield return Passed ? "PASS" : $"FAIL: {string.Join(", ", Checks.Where(c => !c.Passed).Select(c => c.Name))}";
    }

    private static string Seconds(double? value) => value is { } s ? $"{s:F2} s" : "-";

    private string Markdown()
    {
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"# Drill: {Scenario} of region {Region}");
        text.AppendLine();
        text.AppendLine(CultureInfo.InvariantCulture, $"**{(Passed ? "PASS" : "FAIL")}** — run `{RunId}`, started {StartedAt.UtcDateTime:yyyy-MM-dd HH:mm:ss}Z, {DurationSeconds:F0} s under load.");
        text.AppendLine();
        text.AppendLine(CultureInfo.InvariantCulture, $"Shards {string.Join(", ", Shards)} (standby {Standby}); NAS {string.Join(", ", Nas)}; {LoginsPerSecond:N0} logins/s, " +
            $"each a session of Start, {Interims} Interim-Update(s) and Stop: {AccountingPerSecond:N0} accounting requests/s. Promotion: {Promotion}.");
        text.AppendLine();
        text.AppendLine("![timeline](timeline.svg)");
        text.AppendLine();
        text.AppendLine("## Checks");
        text.AppendLine();
        text.AppendLine("| check | result | detail |");
        text.AppendLine("|---|---|---|");
        foreach (var check in Checks)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"| {check.Name} | {(check.Passed ? "ok" : "**FAIL**")} | {check.Detail.Replace("|", "\\|", StringComparison.Ordinal)} |");
        }

        text.AppendLine();
        text.AppendLine("## Figures");
        text.AppendLine();
        text.AppendLine("| | sent | answered | rejected | unanswered | p50 | p99 | max |");
        text.AppendLine("|---|---|---|---|---|---|---|---|");
        foreach (var (name, tally) in new[] { ("logins", Logins!), ("accounting", Accounting!) })
        {
            text.Append(CultureInfo.InvariantCulture,
                $"| {name} | {tally.Sent:N0} | {tally.Answered:N0} | {tally.Rejected:N0} | {tally.Unanswered:N0} | {tally.P50Ms:F1} ms | {tally.P99Ms:F1} ms | {tally.MaxMs:F0} ms |").AppendLine();
        }

        text.AppendLine();
        text.Append(CultureInfo.InvariantCulture, $"Answered by {string.Join(", ", AnsweredByRegion.Select(p => $"region {p.Key}: {p.Value:N0}"))}. ");
        text.AppendLine("Latency is from the release of a request to its answer, the NAS's retries and failover to the backup included; unanswered means neither endpoint answered any of the NAS's tries.");
        text.AppendLine();
        if (Scenario == "switchover")
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"- Switchover: shards served by region {Standby} {Seconds(RtoOwnerSeconds)} after it started.");
        }
        else if (FaultAt is not null)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"- RTO through the backup (fault → first Access-Accept from region {Standby}): {Seconds(RtoBackupSeconds)}");
            text.AppendLine(CultureInfo.InvariantCulture, $"- RTO at the new owner (fault → shards served by region {Standby}): {Seconds(RtoOwnerSeconds)}");
        }

        foreach (var rpo in Rpo)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"- RPO {rpo.Shard}: {rpo.Missing:N0} of the {rpo.Acknowledged:N0} accounting requests region {Region} acknowledged were missing at " +
                $"the new owner right after it took over, spanning {rpo.Seconds * 1000:F0} ms; the promotion estimated {(rpo.EstimatedSeconds is { } e ? $"{e * 1000:F0} ms" : "nothing (unknown)")}.");
        }

        text.AppendLine();
        text.AppendLine("## Timeline");
        text.AppendLine();
        text.AppendLine("| at | event |");
        text.AppendLine("|---|---|");
        foreach (var marker in Markers)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"| {marker.AtSeconds:F1} s | {marker.Label} |");
        }

        text.AppendLine();
        text.AppendLine("## Commands");
        text.AppendLine();
        text.AppendLine("Their output is in `commands.log`.");
        text.AppendLine();
        text.AppendLine("| at | command | exit | took |");
        text.AppendLine("|---|---|---|---|");
        foreach (var command in Commands)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"| {command.StartedAt:F1} s | `{command.Command}` | {command.ExitCode} | {command.Seconds:F1} s |");
        }

        return text.ToString();
    }
}

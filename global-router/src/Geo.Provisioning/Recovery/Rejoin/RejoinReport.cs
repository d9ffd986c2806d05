using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Geo.Provisioning.Recovery.Rejoin;

/// <summary>A row both regions changed after the split, or one the owner could not take: which version was kept, and why.</summary>
public sealed record RowConflict(string Table, string Key, string Kept, string Rule, DateTimeOffset? OldOwnerUpdatedAt, DateTimeOffset? OwnerUpdatedAt);

/// <summary>A ledger entry of the tail the owner did not take as it was (its key used for another request, its subscriber unknown, its amount refused).</summary>
public sealed record LedgerConflict(string IdempotencyKey, string Username, string Kind, long AmountMicros, int Status, string Reason);

/// <summary>What a rejoin reconciled of the old owner's divergent tail, by kind and count; written as Markdown and JSON.</summary>
public sealed class RejoinReport
{
    public required string Shard { get; init; }

    /// <summary>The region that returned (the old owner).</summary>
    public required string Region { get; init; }

    /// <summary>The region that owns the shard (the promoted standby).</summary>
    public required string Owner { get; init; }

    public required long Epoch { get; init; }

    /// <summary>The position the owner had applied from the old owner when it was promoted: the tail starts after it.</summary>
    public required string AppliedPosition { get; init; }

    /// <summary>When the last commit the owner applied from the old owner was made (the split).</summary>
    public DateTimeOffset? SplitAt { get; init; }

    public DateTimeOffset StartedAt { get; init; } = DateTimeOffset.UtcNow;

    public int TailTransactions { get; set; }

    public long TailEvents { get; set; }

    public DateTimeOffset? TailFirstCommit { get; set; }

    public DateTimeOffset? TailLastCommit { get; set; }

    /// <summary>Accounting requests (CDRs of the tail) re-sent to the owner and committed there.</summary>
    public int AccountingReapplied { get; set; }

    /// <summary>The sessions they belong to.</summary>
    public int AccountingSessions { get; set; }

    /// <summary>New usage records the owner made of them (0 for requests it already held: cumulative counters).</summary>
    public long AccountingNewRecords { get; set; }

    /// <summary>Money charged at the owner for them, in micro-units.</summary>
    public long AccountingChargedMicros { get; set; }

    /// <summary>Accounting requests the owner did not answer: not re-applied (the rejoin fails and is run again).</summary>
    public List<string> AccountingNotReapplied { get; } = [];

    public int LedgerApplied { get; set; }

    public int LedgerAlreadyPresent { get; set; }

    public List<LedgerConflict> LedgerConflicts { get; } = [];

    /// <summary>Ledger entries whose re-application failed for a reason of ours (owner unreachable): the rejoin fails and is run again.</summary>
    public List<string> LedgerNotReapplied { get; } = [];

    public int RowsInserted { get; set; }

    public int RowsUpdated { get; set; }

    public int RowsDeleted { get; set; }

    public int RowsAlreadySame { get; set; }

    public List<RowConflict> RowConflicts { get; } = [];

    /// <summary>Subscribers changed here whose cached profile at the owner could not be dropped through its API: the rejoin fails and is run again.</summary>
    public List<string> RowsNotRefreshed { get; } = [];

    /// <summary>Changes not copied because re-applying made them again, by table.</summary>
    public SortedDictionary<string, long> Derived { get; } = new(StringComparer.Ordinal);

    /// <summary>What no rule reconciles: listed for an operator to look at.</summary>
    public List<string> Unhandled { get; } = [];

    /// <summary>True when everything the old owner acknowledged is at the owner (conflicts are decided, not failures).</summary>
    [JsonIgnore]
    public bool Complete => AccountingNotReapplied.Count == 0 && LedgerNotReapplied.Count == 0 && RowsNotRefreshed.Count == 0;

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>One line for the DR log and the console.</summary>
    public string Summary() => string.Concat(
        FormattableString.Invariant($"tail of {TailTransactions} transaction(s): {AccountingReapplied} accounting request(s) of {AccountingSessions} session(s) re-applied "),
        FormattableString.Invariant($"({AccountingNewRecords} new usage record(s), {AccountingChargedMicros} micros charged), "),
        FormattableString.Invariant($"ledger {LedgerApplied} applied / {LedgerAlreadyPresent} already present / {LedgerConflicts.Count} conflict(s), "),
        FormattableString.Invariant($"rows {RowsInserted} inserted / {RowsUpdated} updated / {RowsDeleted} deleted / {RowsAlreadySame} same / {RowConflicts.Count} conflict(s)"),
        Unhandled.Count > 0 ? FormattableString.Invariant($", {Unhandled.Count} unhandled") : "",
        Complete ? "" : FormattableString.Invariant($"; NOT complete: {AccountingNotReapplied.Count + LedgerNotReapplied.Count} not re-applied"));

    public string ToMarkdown()
    {
        var text = new StringBuilder();
        void Line(FormattableString line) => text.Append(line.ToString(CultureInfo.InvariantCulture)).Append('\n');
        Line($"# Rejoin of {Shard}: region {Region} back as the standby of {Owner}");
        Line($"");
        Line($"- epoch {Epoch}; the owner had applied the old owner's changes up to {AppliedPosition} (commit of {SplitAt:O})");
        Line($"- divergent tail: {TailTransactions} transaction(s), {TailEvents} change(s), committed {TailFirstCommit:O} .. {TailLastCommit:O}");
        Line($"- {(Complete ? "complete: everything the old owner acknowledged is at the owner" : "NOT complete: see below; run the rejoin again")}");
        Line($"");
        Line($"| kind | rule | count |");
        Line($"|---|---|---|");
        Line($"| accounting requests | re-sent to the owner as accounting (cumulative counters: charged once) | {AccountingReapplied} re-applied, {AccountingSessions} session(s), {AccountingNewRecords} new usage record(s), {AccountingChargedMicros} micros charged, {AccountingNotReapplied.Count} not re-applied |");
        Line($"| top-ups, adjustments | re-applied by idempotency key | {LedgerApplied} applied, {LedgerAlreadyPresent} already present, {LedgerConflicts.Count} conflict(s), {LedgerNotReapplied.Count} not re-applied |");
        Line($"| subscribers, plans, NAS devices, CoA log | newest wins (updated_at) | {RowsInserted} inserted, {RowsUpdated} updated, {RowsDeleted} deleted, {RowsAlreadySame} already the same, {RowConflicts.Count} conflict(s) |");
        foreach (var (table, count) in Derived)
        {
            Line($"| {table} changes | made again by the re-applied accounting and ledger; not copied | {count} |");
        }

        if (RowConflicts.Count > 0)
        {
            Line($"");
            Line($"## Row conflicts");
            Line($"");
            Line($"| table | key | kept | rule | old owner's updated_at | owner's updated_at |");
            Line($"|---|---|---|---|---|---|");
            foreach (var c in RowConflicts)
            {
                Line($"| {c.Table} | {c.Key} | {c.Kept} | {c.Rule} | {c.OldOwnerUpdatedAt:O} | {c.OwnerUpdatedAt:O} |");
            }
        }

        if (LedgerConflicts.Count > 0)
        {
            Line($"");
            Line($"## Ledger conflicts");
            Line($"");
            Line($"| idempotency key | subscriber | kind | amount (micros) | status | reason |");
            Line($"|---|---|---|---|---|---|");
            foreach (var c in LedgerConflicts)
            {
                Line($"| {c.IdempotencyKey} | {c.Username} | {c.Kind} | {c.AmountMicros} | {c.Status} | {c.Reason} |");
            }
        }

        foreach (var (title, lines) in new[] { ("Not re-applied", AccountingNotReapplied.Concat(LedgerNotReapplied).Concat(RowsNotRefreshed).ToList()), ("Unhandled", Unhandled) })
        {
            if (lines.Count > 0)
            {
                Line($"");
                Line($"## {title}");
                Line($"");
                foreach (var line in lines)
                {
                    Line($"- {line}");
                }
            }
        }

        return text.ToString();
    }

    /// <summary>Writes the report as <c>rejoin-&lt;shard&gt;-&lt;time&gt;.md</c> and <c>.json</c> in <paramref name="directory"/>; returns the Markdown file.</summary>
    public async Task<string> WriteAsync(string directory, CancellationToken cancellationToken)
    {
        System.IO.Directory.CreateDirectory(directory);
        var stem = Path.Combine(directory, string.Create(CultureInfo.InvariantCulture, $"rejoin-{Shard.Replace('@', '-')}-{StartedAt.UtcDateTime:yyyyMMdd'T'HHmmss'Z'}"));
        await File.WriteAllTextAsync(stem + ".json", ToJson(), cancellationToken);
        await File.WriteAllTextAsync(stem + ".md", ToMarkdown(), cancellationToken);
        return stem + ".md";
    }
}

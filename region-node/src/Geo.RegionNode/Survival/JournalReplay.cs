using System.Net;
using Geo.Radius;
using Geo.RegionNode.Accounting;
using Geo.RegionNode.Shards;
using Geo.RegionNode.Telemetry;
using Npgsql;

namespace Geo.RegionNode.Survival;

/// <summary>
/// Hands the survivability journal to each shard's owner once it can take it: the owner region when it answers again
/// (forwarded, as the NAS's own requests are), or this region once the shard is promoted here (committed like any
/// accounting of a shard owned here). Entries go in the order they were acknowledged, one shard at a time, and leave the
/// journal only once the owner acknowledged them; an entry handed over twice (a crash between the owner's answer and
/// the removal) is charged once, as a NAS retransmission is.
/// </summary>
internal sealed partial class JournalReplay(
    SurvivalJournal journal, ShardCatalog catalog, AccountingHandler accounting, OwnerHealth owners, Metrics metrics, TimeProvider time, ILogger<JournalReplay> logger)
    : BackgroundService
{
    private const int Batch = 500;
    private readonly Counter _replayed = metrics.Counter("geo_survival_journal_replayed_total", "Journal entries the shard's owner acknowledged (then removed from the journal)");

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await catalog.FirstLoad.WaitAsync(stoppingToken);
            using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1), time);
            do
            {
                if (!await journal.EnsureAsync(stoppingToken))
                {
                    continue;
                }

                try
                {
                    await ReplayAsync(stoppingToken);
                    var oldest = await journal.OldestAsync(stoppingToken);
                    journal.OldestAgeSeconds = oldest is { } at ? Math.Max(0, (time.GetUtcNow() - at).TotalSeconds) : 0;
                }
                catch (Exception ex) when (ex is NpgsqlException or IOException or TimeoutException)
                {
                    LogReplayFailed(logger, ex);
                }
            }
            while (await timer.WaitForNextTickAsync(stoppingToken));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>Hands over what each shard's owner can take now; returns how many entries left the journal.</summary>
    public async Task<int> ReplayAsync(CancellationToken cancellationToken)
    {
        var total = 0;
        var blocked = new HashSet<(string, string)>();
        var response = new byte[RadiusPacket.MaxLength];
        while (true)
        {
            var entries = await journal.OldestAsync(Batch, cancellationToken);
            var done = new List<SurvivalJournal.StoredEntry>();
            foreach (var entry in entries)
            {
                var shard = (entry.Tenant, entry.Home);
                if (blocked.Contains(shard))
                {
                    // One shard's entries go in order: after one its owner did not take, none of the rest this round.
                    continue;
                }

                if (!Ready(entry) || !await HandOverAsync(entry, response, cancellationToken))
                {
                    blocked.Add(shard);
                    continue;
                }

                done.Add(entry);
            }

            await journal.RemoveAsync(done, cancellationToken);
            _replayed.Add(done.Count);
            total += done.Count;
            if (done.Count > 0)
            {
                LogReplayed(logger, done.Count, journal.Depth);
            }

            if (entries.Count < Batch || done.Count == 0)
            {
                return total;
            }
        }
    }

    /// <summary>Whether the entry's shard has an owner that can take it now: this region, or a region not deemed down (or due a probe).</summary>
    private bool Ready(SurvivalJournal.StoredEntry entry)
    {
        if (catalog.Shard(entry.Tenant, entry.Home) is not null)
        {
            return true;
        }

        return catalog.OwnerOf(entry.Tenant, entry.Home) is { } owner && owners.ShouldForward(owner);
    }

    private async Task<bool> HandOverAsync(SurvivalJournal.StoredEntry entry, byte[] response, CancellationToken cancellationToken)
    {
        if (!catalog.TryGetNas(entry.Nas, out var nas) || RadiusPacket.TryRead(entry.Packet, out var packet) != RadiusReadStatus.Ok)
        {
            // Its NAS is not known here (now): kept, and said once a round, until it is (or an operator removes it).
            LogNasUnknown(logger, entry.Id, entry.Nas);
            return false;
        }

        var request = new RadiusRequest(packet, new IPEndPoint(nas.Address, 0), nas, nas.SecretBytes(0), Replayed: true);
        return await accounting.HandleAsync(request, response, cancellationToken) > 0;
    }

    [LoggerMessage(EventId = 1420, Level = LogLevel.Information, Message = "Survivability journal: {Count} accounting requests handed to their shard's owner; {Depth} left")]
    private static partial void LogReplayed(ILogger logger, int count, long depth);

    [LoggerMessage(EventId = 1421, Level = LogLevel.Warning, Message = "Survivability journal entry {Id}: its NAS {Nas} is not known here; kept until it is")]
    private static partial void LogNasUnknown(ILogger logger, long id, IPAddress nas);

    [LoggerMessage(EventId = 1422, Level = LogLevel.Error, Message = "Survivability journal could not be replayed; trying again")]
    private static partial void LogReplayFailed(ILogger logger, Exception exception);
}

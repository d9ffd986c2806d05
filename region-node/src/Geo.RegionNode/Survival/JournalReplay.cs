using System.Collections.Concurrent;
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
    private const int Concurrency = 64;
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

    /// <summary>
    /// Hands over what each shard's owner can take now; returns how many entries left the journal. A session's entries
    /// go in the order they were acknowledged, each only after the one before it was taken; different sessions go at
    /// once (up to <see cref="Concurrency"/>), as a NAS's own sessions do.
    /// </summary>
    public async Task<int> ReplayAsync(CancellationToken cancellationToken)
    {
        var total = 0;
        // Whether each shard's owner can take its entries, judged once a round (a down owner gets one probe, not one per entry).
        var ready = new Dictionary<(string, string), bool>();
        var blocked = new ConcurrentDictionary<(string, string, string), bool>();
        var probe = new List<SurvivalJournal.StoredEntry>(1);
        while (true)
        {
            var entries = await journal.OldestAsync(Batch, cancellationToken);
            var taken = new List<SurvivalJournal.StoredEntry>();
            // A NAS restart is a barrier in its shard: it goes once every entry before it is handed over, alone, and
            // the entries after it go after it. It closes the sessions of its NAS open when it is committed, so a
            // session started before the restart is closed by it, and one started after it is not.
            var hasTaken = new HashSet<(string, string)>();
            var barred = new HashSet<(string, string)>();
            foreach (var entry in entries)
            {
                var shard = (entry.Tenant, entry.Home);
                if (barred.Contains(shard))
                {
                    continue;
                }

                if (entry.IsNasRestart)
                {
                    barred.Add(shard);
                    if (hasTaken.Contains(shard))
                    {
                        continue;
                    }
                }
                if (!ready.TryGetValue(shard, out var isReady))
                {
                    ready[shard] = isReady = await ReadyAsync(entry, probe, cancellationToken);
                    if (isReady && probe.Count > 0)
                    {
                        // The owner took the entry it was probed with.
                        await journal.RemoveAsync(probe, cancellationToken);
                        _replayed.Add(1);
                        total++;
                        probe.Clear();
                        continue;
                    }
                }

                if (isReady)
                {
                    taken.Add(entry);
                    hasTaken.Add(shard);
                }
            }

            var done = new ConcurrentBag<SurvivalJournal.StoredEntry>();
            var sessions = taken.GroupBy(e => (e.Tenant, e.Home, e.AcctSessionId)).Where(g => !blocked.ContainsKey(g.Key));
            await Parallel.ForEachAsync(sessions, new ParallelOptions { MaxDegreeOfParallelism = Concurrency, CancellationToken = cancellationToken }, async (session, token) =>
            {
                var response = new byte[RadiusPacket.MaxLength];
                foreach (var entry in session)
                {
                    // An owner that stopped answering meanwhile (deemed down) is not sent the rest: asked again next round.
                    if ((catalog.Shard(entry.Tenant, entry.Home) is null && catalog.OwnerOf(entry.Tenant, entry.Home) is { } owner && owners.IsDown(owner)) ||
                        !await HandOverAsync(entry, response, token))
                    {
                        // The rest of this session waits for the next round, after this one.
                        blocked[session.Key] = true;
                        return;
                    }

                    done.Add(entry);
                }
            });

            await journal.RemoveAsync(done, cancellationToken);
            _replayed.Add(done.Count);
            total += done.Count;
            if (!done.IsEmpty)
            {
                LogReplayed(logger, done.Count, journal.Depth);
            }

            if (done.IsEmpty || (entries.Count < Batch && barred.Count == 0))
            {
                return total;
            }
        }
    }

    /// <summary>
    /// Whether the entry's shard has an owner that can take its entries now: this region, or a region not deemed down.
    /// A region deemed down, and due a probe, is sent this entry alone first; when it takes it, the entry is left in
    /// <paramref name="probe"/> to be removed, and the rest follow.
    /// </summary>
    private async Task<bool> ReadyAsync(SurvivalJournal.StoredEntry entry, List<SurvivalJournal.StoredEntry> probe, CancellationToken cancellationToken)
    {
        if (catalog.Shard(entry.Tenant, entry.Home) is not null)
        {
            return true;
        }

        if (catalog.OwnerOf(entry.Tenant, entry.Home) is not { } owner)
        {
            return false;
        }

        if (!owners.IsDown(owner))
        {
            return true;
        }

        if (!owners.ShouldForward(owner) || !await HandOverAsync(entry, new byte[RadiusPacket.MaxLength], cancellationToken))
        {
            return false;
        }

        probe.Add(entry);
        return true;
    }

    private async Task<bool> HandOverAsync(SurvivalJournal.StoredEntry entry, byte[] response, CancellationToken cancellationToken)
    {
        if (!catalog.TryGetNas(entry.Nas, out var nas) || RadiusPacket.TryRead(entry.Packet, out var packet) != RadiusReadStatus.Ok)
        {
            // Its NAS is not known here (now): kept, and said once a round, until it is (or an operator removes it).
            LogNasUnknown(logger, entry.Id, entry.Nas);
            return false;
        }

        var request = new RadiusRequest(packet, new IPEndPoint(nas.Address, 0), nas, nas.SecretBytes(0), Replayed: true, JournalHome: entry.Home);
        return await accounting.HandleAsync(request, response, cancellationToken) > 0;
    }

    [LoggerMessage(EventId = 1420, Level = LogLevel.Information, Message = "Survivability journal: {Count} accounting requests handed to their shard's owner; {Depth} left")]
    private static partial void LogReplayed(ILogger logger, int count, long depth);

    [LoggerMessage(EventId = 1421, Level = LogLevel.Warning, Message = "Survivability journal entry {Id}: its NAS {Nas} is not known here; kept until it is")]
    private static partial void LogNasUnknown(ILogger logger, long id, IPAddress nas);

    [LoggerMessage(EventId = 1422, Level = LogLevel.Error, Message = "Survivability journal could not be replayed; trying again")]
    private static partial void LogReplayFailed(ILogger logger, Exception exception);
}

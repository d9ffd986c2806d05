using Geo.Directory.Shards;
using Microsoft.Extensions.Logging;

namespace Geo.Directory.Placement;

/// <summary>
/// Removes placements whose subscriber row was never created. Only placements between
/// <see cref="OrphanSweepOptions.MinAge"/> (creates in flight have finished) and <see cref="OrphanSweepOptions.MaxAge"/>
/// (older ones were checked by earlier sweeps) are checked; one is deleted only if unchanged since (same creation time).
/// </summary>
public sealed partial class OrphanPlacementSweeper
{
    private readonly IDirectoryStore _store;
    private readonly ILogger<OrphanPlacementSweeper> _logger;
    private readonly TimeProvider _time;

    /// <summary>A sweeper over <paramref name="store"/>.</summary>
    public OrphanPlacementSweeper(IDirectoryStore store, ILogger<OrphanPlacementSweeper> logger, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(logger);
        _store = store;
        _logger = logger;
        _time = time ?? TimeProvider.System;
    }

    /// <summary>
    /// One sweep. <paramref name="existing"/> gets a shard and usernames placed in it and returns those whose
    /// subscriber row exists; when it throws (the region is unreachable) that batch is kept for the next sweep.
    /// Returns how many placements were removed.
    /// </summary>
    public async Task<int> SweepAsync(
        OrphanSweepOptions options,
        Func<ShardKey, IReadOnlyList<string>, CancellationToken, Task<IReadOnlySet<string>>> existing,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(existing);
        var now = _time.GetUtcNow();
        var from = now - options.MaxAge;
        var to = now - options.MinAge;
        var removed = 0;
        SubscriberPlacement? after = null;
        while (true)
        {
            var page = await _store.ListPlacementsCreatedBetweenAsync(from, to, after, options.BatchSize, cancellationToken);
            if (page.Count == 0)
            {
                break;
            }

            after = page[^1];
            foreach (var group in page.GroupBy(p => new ShardKey(p.TenantId, p.HomeRegion)))
            {
                var placements = group.ToList();
                IReadOnlySet<string> present;
                try
                {
                    present = await existing(group.Key, placements.ConvertAll(p => p.Username), cancellationToken);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    LogCheckFailed(ex, group.Key.ToString(), placements.Count);
                    continue;
                }

                foreach (var placement in placements)
                {
                    if (!present.Contains(placement.Username) &&
                        await _store.DeletePlacementAsync(placement.TenantId, placement.Username, placement.CreatedAt, cancellationToken))
                    {
                        removed++;
                    }
                }
            }

            if (page.Count < options.BatchSize)
            {
                break;
            }
        }

        if (removed > 0)
        {
            LogRemoved(removed);
        }

        return removed;
    }

    [LoggerMessage(EventId = 3301, Level = LogLevel.Information, Message = "Removed {Count} orphaned placements")]
    private partial void LogRemoved(int count);

    [LoggerMessage(EventId = 3302, Level = LogLevel.Warning, Message = "Orphan check of {Count} placements in shard {Shard} failed; kept for the next sweep")]
    private partial void LogCheckFailed(Exception exception, string shard, int count);
}

/// <summary>Which placements a sweep looks at.</summary>
public sealed record OrphanSweepOptions
{
    /// <summary>Placements younger than this are left alone: their create may still be in flight.</summary>
    public TimeSpan MinAge { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>Placements older than this were checked by earlier sweeps.</summary>
    public TimeSpan MaxAge { get; init; } = TimeSpan.FromDays(7);

    /// <summary>Placements per page and per existence check.</summary>
    public int BatchSize { get; init; } = 1000;
}

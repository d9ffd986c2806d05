namespace Geo.Directory.Stores.Consul;

/// <summary>
/// Three blocking queries kept in flight — the directory prefix, the placement prefix and the region service's
/// health — each re-issued with the index of its last answer. An answer with a new index is a change; an answer
/// with the same index is Consul's wait running out.
/// </summary>
internal sealed class ConsulDirectoryWatch : IDirectoryWatch
{
    private readonly ConsulDirectoryStore _store;
    private readonly CancellationTokenSource _stopping = new();
    private ulong _directoryIndex;
    private ulong _placementIndex;
    private ulong _healthIndex;
    private Task<ulong>? _directoryQuery;
    private Task<(List<ConsulKvEntry> Entries, ulong Index)>? _placementQuery;
    private Task<ulong>? _healthQuery;

    public ConsulDirectoryWatch(ConsulDirectoryStore store, ulong directoryIndex, ulong placementIndex, ulong healthIndex)
    {
        _store = store;
        _directoryIndex = directoryIndex;
        _placementIndex = placementIndex;
        _healthIndex = healthIndex;
    }

    public async Task<DirectoryChange> WaitAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var token = _stopping.Token;
            _directoryQuery ??= QueryIndexAsync(() => _store.ListAsync(_store.DirectoryPrefix, _directoryIndex, token));
            _placementQuery ??= _store.ListAsync(_store.PlacementPrefix, _placementIndex, token);
            _healthQuery ??= QueryIndexAsync(async () => { var (_, index) = await _store.HealthAsync(_healthIndex, token); return (0, index); });

            var done = await Task.WhenAny(_directoryQuery, _placementQuery, _healthQuery).WaitAsync(cancellationToken);
            if (done == _directoryQuery)
            {
                var index = await _directoryQuery;
                _directoryQuery = null;
                if (Advance(ref _directoryIndex, index))
                {
                    return new DirectoryChange(true, false, []);
                }
            }
            else if (done == _healthQuery)
            {
                var index = await _healthQuery;
                _healthQuery = null;
                if (Advance(ref _healthIndex, index))
                {
                    return new DirectoryChange(true, false, []);
                }
            }
            else
            {
                var (buckets, index) = await _placementQuery;
                _placementQuery = null;
                var previous = _placementIndex;
                if (index < previous)
                {
                    // Consul's rule: an index that goes backwards (a restored snapshot) means start over.
                    _placementIndex = index;
                    return new DirectoryChange(false, true, []);
                }

                if (Advance(ref _placementIndex, index))
                {
                    var changes = _store.PlacementChanges(buckets, previous).ToList();
                    if (changes.Count > 0)
                    {
                        return new DirectoryChange(false, false, changes);
                    }
                }
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        foreach (var query in new Task?[] { _directoryQuery, _placementQuery, _healthQuery })
        {
            if (query is not null)
            {
                try
                {
                    await query;
                }
                catch (Exception)
                {
                    // Cancelled or already failed: the watch is being thrown away either way.
                }
            }
        }

        _stopping.Dispose();
    }

    private static async Task<ulong> QueryIndexAsync<T>(Func<Task<(T, ulong Index)>> query) => (await query()).Index;

    /// <summary>Moves an index forward; true when it changed (backwards counts as a change, per Consul's rule to reset).</summary>
    private static bool Advance(ref ulong current, ulong next)
    {
        if (next == current)
        {
            return false;
        }

        current = next;
        return true;
    }
}

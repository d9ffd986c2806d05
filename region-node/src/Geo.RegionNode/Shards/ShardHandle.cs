using Geo.RegionNode.Accounting;
using Npgsql;

namespace Geo.RegionNode.Shards;

/// <summary>A shard this region owns now: its database, the epoch it holds, its plans and its accounting writer.</summary>
internal sealed class ShardHandle(string tenantId, string homeRegion, string databaseName, long epoch, NpgsqlDataSource dataSource) : IAsyncDisposable
{
    private long _epoch = epoch;
    private volatile IReadOnlyDictionary<string, Plan> _plans = new Dictionary<string, Plan>();

    public string TenantId { get; } = tenantId;

    public string HomeRegion { get; } = homeRegion;

    public string DatabaseName { get; } = databaseName;

    public NpgsqlDataSource DataSource { get; } = dataSource;

    /// <summary>The epoch this node holds; every write transaction checks it against the shard's fence.</summary>
    public long Epoch
    {
        get => Interlocked.Read(ref _epoch);
        set => Interlocked.Exchange(ref _epoch, value);
    }

    public IReadOnlyDictionary<string, Plan> Plans
    {
        get => _plans;
        set => _plans = value;
    }

    public AccountingWriter? Writer { get; set; }

    public override string ToString() => $"{TenantId}@{HomeRegion}";

    public async ValueTask DisposeAsync()
    {
        if (Writer is not null)
        {
            await Writer.DisposeAsync();
        }

        await DataSource.DisposeAsync();
    }
}

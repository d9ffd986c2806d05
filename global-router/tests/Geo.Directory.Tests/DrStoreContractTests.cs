using System.Globalization;
using Geo.Directory.Recovery;
using Geo.Directory.Shards;
using Geo.Directory.Stores.Consul;
using Geo.Directory.Stores.Memory;
using Microsoft.Extensions.Time.Testing;

namespace Geo.Directory.Tests;

/// <summary>Owner leases and the DR event log of the in-memory store, on a fake clock.</summary>
public sealed class InMemoryDrStoreTests : DrStoreContract
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2030, 1, 1, 0, 0, 0, TimeSpan.Zero));

    protected override async Task<IDirectoryStore> CreateStoreAsync()
    {
        var store = new InMemoryDirectoryStore(_time);
        await DirectoryFixtures.SeedAsync(store);
        return store;
    }

    protected override Task<DateTimeOffset> DirectoryClockAsync() => Task.FromResult(_time.GetUtcNow());

    protected override void LetTimePass() => _time.Advance(TimeSpan.FromSeconds(1));
}

/// <summary>
/// Owner leases and the DR event log of the Consul store against an emulated Consul KV (no Consul server can run
/// here; <see cref="EmulatedConsul"/> says what it models), on a fake clock: the store's clock is the directory's.
/// </summary>
public sealed class ConsulDrStoreTests : DrStoreContract, IDisposable
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2030, 1, 1, 0, 0, 0, TimeSpan.Zero));
    private readonly EmulatedConsul _consul = new();

    [Fact]
    public async Task RenewReleaseAppend_WatchedPrefixes_TheirIndexesDoNotMove()
    {
        // Consul wakes a blocking query on a prefix when that prefix's index moves; these writes must leave the two
        // prefixes the directory watch follows as they were.
        await using var store = (ConsulDirectoryStore)await CreateStoreAsync();
        await store.TryAddPlacementAsync("acme", "alice", "a", default);
        var directory = await PrefixIndexAsync(store.DirectoryPrefix);
        var placements = await PrefixIndexAsync(store.PlacementPrefix);
        var written = _consul.WrittenKeys.Count;

        await store.RenewOwnerLeasesAsync("a", [(new ShardKey("acme", "a"), 1)], TimeSpan.FromSeconds(4), default);
        await store.ReleaseOwnerLeasesAsync("a", default);
        await store.AppendDrEventAsync(new DrEvent(0, default, new ShardKey("acme", "a"), DrOperations.Promote, "wait-lease", DrOutcomes.Started, "", null, null, null), default);

        Assert.Equal((directory, placements), (await PrefixIndexAsync(store.DirectoryPrefix), await PrefixIndexAsync(store.PlacementPrefix)));
        Assert.Equal(["geo/owner-leases/acme/a", "geo/owner-leases/acme/a"], _consul.WrittenKeys.Skip(written).Take(2));
        Assert.StartsWith("geo/dr-events/acme/a/", _consul.WrittenKeys[^1], StringComparison.Ordinal);
    }

    public void Dispose() => _consul.Dispose();

    protected override async Task<IDirectoryStore> CreateStoreAsync()
    {
        var store = new ConsulDirectoryStore(new ConsulDirectoryOptions(), _consul, _time);
        await DirectoryFixtures.SeedAsync(store);
        return store;
    }

    protected override Task<DateTimeOffset> DirectoryClockAsync() => Task.FromResult(_time.GetUtcNow());

    protected override void LetTimePass() => _time.Advance(TimeSpan.FromSeconds(1));

    /// <summary>The index a blocking query on <paramref name="prefix"/> compares (X-Consul-Index of a keys listing).</summary>
    private async Task<ulong> PrefixIndexAsync(string prefix)
    {
        using var client = new HttpClient(_consul, disposeHandler: false) { BaseAddress = new Uri("http://consul.test") };
        using var response = await client.GetAsync(new Uri($"/v1/kv/{prefix}?keys=true", UriKind.Relative));
        return ulong.Parse(response.Headers.GetValues("X-Consul-Index").Single(), CultureInfo.InvariantCulture);
    }
}

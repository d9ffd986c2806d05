using System.Globalization;
using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Geo.Directory.Placement;
using Geo.Directory.Recovery;
using Geo.Directory.Regions;
using Geo.Directory.Shards;
using Geo.Directory.Stores.Consul;
using Geo.Directory.Tenants;
using Microsoft.Extensions.Time.Testing;

namespace Geo.Directory.Tests;

/// <summary>The Consul store against replayed Consul HTTP responses (no Consul server can run here).</summary>
public sealed class ConsulDirectoryStoreTests
{
    private const string ShardA = "/v1/kv/geo/directory/shards/acme/a";
    private const string ShardADocument = """{"owner":"a","standby":"b","epoch":1,"state":"active","databaseName":"geo_acme_a"}""";
    private const string LeasedShardDocument =
        """{"owner":"b","standby":"a","epoch":4,"state":"provisioning","leaseHolder":"dr-1","leaseExpiresAt":"2030-01-01T00:00:00+00:00","databaseName":"geo_acme_a"}""";
    private const string AcmeShards = "/v1/kv/geo/directory/shards/acme/";
    private const string AcmeNas = "/v1/kv/geo/directory/nas/acme/";
    private const string TenantAcme = "/v1/kv/geo/directory/tenants/acme";
    private const string Txn = "/v1/txn";
    private const string AllShards = "/v1/kv/geo/directory/shards/";
    private const string OwnerLeases = "/v1/kv/geo/owner-leases/";
    private static readonly DateTimeOffset Now = new(2030, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly ShardKey AcmeA = new("acme", "a");
    private static readonly byte[] FirstHash = [.. Enumerable.Repeat((byte)0x11, 32)];
    private static readonly byte[] SecondHash = [.. Enumerable.Repeat((byte)0x22, 32)];

    [Fact]
    public async Task LoadAsync_ReplayedConsulResponses_BuildsDirectoryWithCatalogEndpointsAndHealth()
    {
        var consul = new ReplayedConsul()
            .On(HttpMethod.Get, "/v1/kv/geo/directory/", ReplayedConsul.Json($$"""
                [
                  {{ReplayedConsul.Entry("geo/directory/regions/a", """{"displayName":"Region a","apiUrl":"http://fallback-a:80","radiusHost":"fallback-a","radiusAuthPort":1812,"radiusAcctPort":1813}""", 5, 5)}},
                  {{ReplayedConsul.Entry("geo/directory/regions/b", """{"displayName":"Region b","apiUrl":"http://fallback-b:80","radiusHost":"fallback-b","radiusAuthPort":1812,"radiusAcctPort":1813}""", 6, 6)}},
                  {{ReplayedConsul.Entry("geo/directory/regions/c", """{"displayName":"Region c","apiUrl":"http://10.3.0.1:8080","radiusHost":"10.3.0.1","radiusAuthPort":1812,"radiusAcctPort":1813}""", 7, 7)}},
                  {{ReplayedConsul.Entry("geo/directory/tenants/acme", $$"""{"displayName":"Acme","apiKeyHash":"{{Convert.ToBase64String(FirstHash)}}"}""", 8, 8)}},
                  {{ReplayedConsul.Entry("geo/directory/shards/acme/a", ShardADocument, 9, 200)}},
                  {{ReplayedConsul.Entry("geo/directory/nas/acme/bng-a", """{"address":"10.0.0.1","primaryRegion":"a","backupRegion":"b"}""", 10, 10)}},
                  {{ReplayedConsul.Entry("geo/directory/unknown/thing", "{}", 11, 11)}}
                ]
                """, 200), "recurse=true")
            .On(HttpMethod.Get, "/v1/health/service/geo-region", ReplayedConsul.Json(HealthResponse, 300));
        await using var store = new ConsulDirectoryStore(new ConsulDirectoryOptions(), consul);

        var data = await store.LoadAsync(default);

        Assert.Equal(["a", "b", "c"], data.Regions.Select(r => r.Id));
        var a = data.Regions[0];
        Assert.Equal((new Uri("http://10.1.10.12:8080/"), "10.1.10.12", 11812, 11813), (a.ApiUrl, a.RadiusHost, a.RadiusAuthPort, a.RadiusAcctPort));
        Assert.Equal(RegionHealth.Healthy, data.RegionHealth["a"]);
        Assert.Equal(RegionHealth.Down, data.RegionHealth["b"]);
        Assert.False(data.RegionHealth.ContainsKey("c"));
        Assert.Equal(new Uri("http://10.3.0.1:8080"), data.Regions[2].ApiUrl);
        var shard = Assert.Single(data.Shards);
        Assert.Equal((new ShardKey("acme", "a"), "a", "b", 1L, ShardState.Active), (shard.Key, shard.OwnerRegion, shard.StandbyRegion, shard.Epoch, shard.State));
        Assert.Equal(IPAddress.Parse("10.0.0.1"), Assert.Single(data.NasDevices).Address);
        Assert.Equal("Acme", Assert.Single(data.Tenants).DisplayName);
        Assert.Equal(FirstHash, data.TenantApiKeyHashes["acme"]);
    }

    [Fact]
    public async Task TryUpdateShardAsync_ReplayedConsulResponses_WritesWithCasOfModifyIndexAndRaisesEpoch()
    {
        var consul = new ReplayedConsul()
            .On(HttpMethod.Get, ShardA, ReplayedConsul.Json($"[{ReplayedConsul.Entry("geo/directory/shards/acme/a", ShardADocument, 9, 200)}]", 200))
            .On(HttpMethod.Put, ShardA, ReplayedConsul.Bool(true), "cas=200");
        await using var store = new ConsulDirectoryStore(new ConsulDirectoryOptions(), consul);

        var result = await store.TryUpdateShardAsync(new ShardKey("acme", "a"), 1, new ShardUpdate { OwnerRegion = "b" }, default);

        Assert.Equal(ShardUpdateOutcome.Updated, result.Outcome);
        Assert.Equal((2L, "b", (string?)null), (result.Current!.Epoch, result.Current.OwnerRegion, result.Current.StandbyRegion));
        var put = consul.Requests.Single(r => r.Method == HttpMethod.Put);
        using var written = JsonDocument.Parse(put.Body);
        Assert.Equal(2, written.RootElement.GetProperty("epoch").GetInt64());
        Assert.Equal("b", written.RootElement.GetProperty("owner").GetString());
        Assert.False(written.RootElement.TryGetProperty("standby", out _));
    }

    [Fact]
    public async Task TryUpdateShardAsync_ReplayedConsulResponsesCasLost_RereadsAndReportsEpochMismatch()
    {
        // Our PUT ?cas=200 answers false: another process changed the shard (epoch 2) between our read and write.
        var consul = new ReplayedConsul()
            .On(HttpMethod.Get, ShardA, ReplayedConsul.Json($"[{ReplayedConsul.Entry("geo/directory/shards/acme/a", ShardADocument, 9, 200)}]", 200))
            .On(HttpMethod.Put, ShardA, ReplayedConsul.Bool(false), "cas=200")
            .On(HttpMethod.Get, ShardA, ReplayedConsul.Json(
                $"[{ReplayedConsul.Entry("geo/directory/shards/acme/a", ShardADocument.Replace("\"epoch\":1", "\"epoch\":2", StringComparison.Ordinal).Replace("\"owner\":\"a\"", "\"owner\":\"c\"", StringComparison.Ordinal), 9, 201)}]", 201));
        await using var store = new ConsulDirectoryStore(new ConsulDirectoryOptions(), consul);

        var result = await store.TryUpdateShardAsync(new ShardKey("acme", "a"), 1, new ShardUpdate { OwnerRegion = "b" }, default);

        Assert.Equal(ShardUpdateOutcome.EpochMismatch, result.Outcome);
        Assert.Equal((2L, "c"), (result.Current!.Epoch, result.Current.OwnerRegion));
        Assert.Single(consul.Requests, r => r.Method == HttpMethod.Put);
    }

    [Fact]
    public async Task TryUpdateShardAsync_ReplayedConsulResponsesCasLostToLeaseRenewal_RetriesAndWins()
    {
        // The competing write only renewed a lease (epoch still 1): the change is decided again and applied.
        var renewed = ShardADocument.Replace("}", ""","leaseHolder":"dr-1","leaseExpiresAt":"2030-01-01T00:00:00+00:00"}""", StringComparison.Ordinal);
        var consul = new ReplayedConsul()
            .On(HttpMethod.Get, ShardA, ReplayedConsul.Json($"[{ReplayedConsul.Entry("geo/directory/shards/acme/a", ShardADocument, 9, 200)}]", 200))
            .On(HttpMethod.Put, ShardA, ReplayedConsul.Bool(false), "cas=200")
            .On(HttpMethod.Get, ShardA, ReplayedConsul.Json($"[{ReplayedConsul.Entry("geo/directory/shards/acme/a", renewed, 9, 205)}]", 205))
            .On(HttpMethod.Put, ShardA, ReplayedConsul.Bool(true), "cas=205");
        await using var store = new ConsulDirectoryStore(new ConsulDirectoryOptions(), consul);

        var result = await store.TryUpdateShardAsync(new ShardKey("acme", "a"), 1, new ShardUpdate { State = ShardState.Promoting }, default);

        Assert.Equal(ShardUpdateOutcome.Updated, result.Outcome);
        Assert.Equal((2L, ShardState.Promoting, "dr-1"), (result.Current!.Epoch, result.Current.State, result.Current.Lease!.Holder));
    }

    [Fact]
    public async Task TryUpdateShardAsync_ReplayedConsulResponsesStaleEpoch_NoWrite()
    {
        var consul = new ReplayedConsul()
            .On(HttpMethod.Get, ShardA, ReplayedConsul.Json($"[{ReplayedConsul.Entry("geo/directory/shards/acme/a", ShardADocument, 9, 200)}]", 200));
        await using var store = new ConsulDirectoryStore(new ConsulDirectoryOptions(), consul);

        var result = await store.TryUpdateShardAsync(new ShardKey("acme", "a"), 7, new ShardUpdate { OwnerRegion = "b" }, default);

        Assert.Equal(ShardUpdateOutcome.EpochMismatch, result.Outcome);
        Assert.DoesNotContain(consul.Requests, r => r.Method == HttpMethod.Put);
    }

    [Fact]
    public async Task TryUpdateShardAsync_ReplayedConsulResponsesMissingKey_NotFound()
    {
        var consul = new ReplayedConsul().On(HttpMethod.Get, ShardA, ReplayedConsul.NotFound(200));
        await using var store = new ConsulDirectoryStore(new ConsulDirectoryOptions(), consul);

        var result = await store.TryUpdateShardAsync(new ShardKey("acme", "a"), 1, new ShardUpdate { OwnerRegion = "b" }, default);

        Assert.Equal(ShardUpdateOutcome.NotFound, result.Outcome);
        Assert.Null(result.Current);
    }

    [Fact]
    public async Task CreateShardAsync_ReplayedConsulResponses_WritesOnlyIfAbsentWithCasZero()
    {
        // cas=0 answered false: the shard exists already and keeps its owner and epoch (here: promoted, epoch 4).
        var existing = """{"owner":"b","epoch":4,"state":"active","databaseName":"geo_acme_a"}""";
        var consul = new ReplayedConsul()
            .On(HttpMethod.Put, ShardA, ReplayedConsul.Bool(false), "cas=0")
            .On(HttpMethod.Get, ShardA, ReplayedConsul.Json($"[{ReplayedConsul.Entry("geo/directory/shards/acme/a", existing, 9, 300)}]", 300));
        await using var store = new ConsulDirectoryStore(new ConsulDirectoryOptions(), consul);

        var shard = await store.CreateShardAsync(new Shard(new ShardKey("acme", "a"), "a", "b", 1, ShardState.Active, null, "geo_acme_a"), default);

        Assert.Equal(("b", 4L), (shard.OwnerRegion, shard.Epoch));
        Assert.Contains(consul.Requests, r => r.Method == HttpMethod.Put && r.Query == "cas=0");
    }

    [Fact]
    public async Task TryAddPlacementAsync_ReplayedConsulResponses_AddsToBucketWithCas()
    {
        var bucket = BucketPath("acme", "alice");
        var consul = new ReplayedConsul()
            .On(HttpMethod.Get, bucket, ReplayedConsul.Json($$"""[{{ReplayedConsul.Entry(bucket[7..], """{"bob":{"h":"b","c":1700000000000},"old":{"d":1}}""", 40, 41)}}]""", 41))
            .On(HttpMethod.Put, bucket, ReplayedConsul.Bool(true), "cas=41");
        await using var store = new ConsulDirectoryStore(new ConsulDirectoryOptions(), consul);

        var write = await store.TryAddPlacementAsync("acme", "alice", "a", default);

        Assert.True(write.Created);
        Assert.Equal("a", write.Placement.HomeRegion);
        using var written = JsonDocument.Parse(consul.Requests.Single(r => r.Method == HttpMethod.Put).Body);
        Assert.Equal("a", written.RootElement.GetProperty("alice").GetProperty("h").GetString());
        Assert.Equal("b", written.RootElement.GetProperty("bob").GetProperty("h").GetString());
        Assert.False(written.RootElement.TryGetProperty("old", out _), "a tombstone older than an hour is pruned");
    }

    [Fact]
    public async Task TryAddPlacementAsync_ReplayedConsulResponsesAlreadyPlaced_ExistingWinsWithoutWrite()
    {
        var bucket = BucketPath("acme", "alice");
        var consul = new ReplayedConsul()
            .On(HttpMethod.Get, bucket, ReplayedConsul.Json($$"""[{{ReplayedConsul.Entry(bucket[7..], """{"alice":{"h":"b","c":1700000000000}}""", 40, 41)}}]""", 41));
        await using var store = new ConsulDirectoryStore(new ConsulDirectoryOptions(), consul);

        var write = await store.TryAddPlacementAsync("acme", "alice", "a", default);

        Assert.False(write.Created);
        Assert.Equal(("b", DateTimeOffset.FromUnixTimeMilliseconds(1700000000000)), (write.Placement.HomeRegion, write.Placement.CreatedAt));
        Assert.DoesNotContain(consul.Requests, r => r.Method == HttpMethod.Put);
    }

    [Fact]
    public async Task LoadPlacementsAsync_ReplayedConsulResponses_LivePlacementsOnly()
    {
        var consul = new ReplayedConsul()
            .On(HttpMethod.Get, "/v1/kv/geo/placements/", ReplayedConsul.Json($$"""
                [
                  {{ReplayedConsul.Entry("geo/placements/acme/000", """{"alice":{"h":"a","c":1},"gone":{"d":2}}""", 1, 3)}},
                  {{ReplayedConsul.Entry("geo/placements/zenith/fff", """{"alice":{"h":"b","c":1}}""", 2, 2)}}
                ]
                """, 3), "recurse=true");
        await using var store = new ConsulDirectoryStore(new ConsulDirectoryOptions(), consul);
        var index = new PlacementIndex();

        await store.LoadPlacementsAsync(index, default);

        Assert.Equal(2, index.Count);
        Assert.True(index.TryGetHomeRegion("zenith", "alice", out var home));
        Assert.Equal("b", home);
        Assert.False(index.TryGetHomeRegion("acme", "gone", out _));
    }

    [Fact]
    public async Task WatchAsync_ReplayedConsulResponses_BlockingQueryOnDirectoryReportsControlPlaneChange()
    {
        var consul = new ReplayedConsul()
            .On(HttpMethod.Get, "/v1/kv/geo/directory/", ReplayedConsul.Json("""["geo/directory/shards/acme/a"]""", 10), "keys=true")
            .On(HttpMethod.Get, "/v1/kv/geo/placements/", ReplayedConsul.NotFound(20), "keys=true")
            .On(HttpMethod.Get, "/v1/health/service/geo-region", ReplayedConsul.Json(HealthResponse, 30), "")
            .On(HttpMethod.Get, "/v1/kv/geo/directory/", ReplayedConsul.Json($"[{ReplayedConsul.Entry("geo/directory/shards/acme/a", ShardADocument, 9, 11)}]", 11), "index=10")
            .Blocks("/v1/kv/geo/placements/")
            .Blocks("/v1/health/service/geo-region");
        await using var store = new ConsulDirectoryStore(new ConsulDirectoryOptions { WaitTime = TimeSpan.FromSeconds(5) }, consul);
        await using var watch = await store.WatchAsync(default);

        var change = await watch.WaitAsync(default).WaitAsync(TimeSpan.FromSeconds(10));

        Assert.True(change.ControlPlane);
        Assert.Empty(change.Placements);
        Assert.Contains(consul.Requests, r => r.Path == "/v1/kv/geo/directory/" && r.Query == "recurse=true&index=10&wait=5000ms");
        Assert.Contains(consul.Requests, r => r.Path == "/v1/kv/geo/placements/" && r.Query == "recurse=true&index=20&wait=5000ms");
        Assert.Contains(consul.Requests, r => r.Path == "/v1/health/service/geo-region" && r.Query == "index=30&wait=5000ms");
    }

    [Fact]
    public async Task WatchAsync_ReplayedConsulResponses_PlacementChangeReportsOnlyBucketsModifiedSinceTheIndex()
    {
        var consul = new ReplayedConsul()
            .On(HttpMethod.Get, "/v1/kv/geo/directory/", ReplayedConsul.Json("[]", 10), "keys=true")
            .On(HttpMethod.Get, "/v1/kv/geo/placements/", ReplayedConsul.Json("[]", 20), "keys=true")
            .On(HttpMethod.Get, "/v1/health/service/geo-region", ReplayedConsul.Json("[]", 30), "")
            .On(HttpMethod.Get, "/v1/kv/geo/placements/", ReplayedConsul.Json($$"""
                [
                  {{ReplayedConsul.Entry("geo/placements/acme/001", """{"untouched":{"h":"a","c":1}}""", 5, 15)}},
                  {{ReplayedConsul.Entry("geo/placements/acme/002", """{"alice":{"h":"a","c":2},"bob":{"d":3}}""", 6, 25)}}
                ]
                """, 25), "index=20")
            .Blocks("/v1/kv/geo/directory/")
            .Blocks("/v1/health/service/geo-region");
        await using var store = new ConsulDirectoryStore(new ConsulDirectoryOptions(), consul);
        await using var watch = await store.WatchAsync(default);

        var change = await watch.WaitAsync(default).WaitAsync(TimeSpan.FromSeconds(10));

        Assert.False(change.ControlPlane);
        Assert.Equal([new PlacementChange("acme", "alice", "a"), new PlacementChange("acme", "bob", null)], change.Placements.OrderBy(c => c.Username));
    }

    [Fact]
    public async Task WatchAsync_ReplayedConsulResponsesIndexUnchanged_KeepsWaiting()
    {
        // Consul's wait ran out (same index): no change is reported; the next query brings one.
        var consul = new ReplayedConsul()
            .On(HttpMethod.Get, "/v1/kv/geo/directory/", ReplayedConsul.Json("[]", 10), "keys=true")
            .On(HttpMethod.Get, "/v1/kv/geo/placements/", ReplayedConsul.Json("[]", 20), "keys=true")
            .On(HttpMethod.Get, "/v1/health/service/geo-region", ReplayedConsul.Json("[]", 30), "")
            .On(HttpMethod.Get, "/v1/health/service/geo-region", ReplayedConsul.Json("[]", 30), "index=30")
            .On(HttpMethod.Get, "/v1/health/service/geo-region", ReplayedConsul.Json(HealthResponse, 31), "index=30")
            .Blocks("/v1/kv/geo/directory/")
            .Blocks("/v1/kv/geo/placements/");
        await using var store = new ConsulDirectoryStore(new ConsulDirectoryOptions(), consul);
        await using var watch = await store.WatchAsync(default);

        var change = await watch.WaitAsync(default).WaitAsync(TimeSpan.FromSeconds(10));

        Assert.True(change.ControlPlane);
        Assert.Equal(2, consul.Requests.Count(r => r.Path == "/v1/health/service/geo-region" && r.Query.StartsWith("index=30", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task Requests_ReplayedConsulResponses_CarryTokenAndDatacenter_ErrorsNeverShowTheToken()
    {
        var consul = new ReplayedConsul().On(HttpMethod.Get, ShardA, ReplayedConsul.Json("rpc error", 0, HttpStatusCode.InternalServerError));
        await using var store = new ConsulDirectoryStore(new ConsulDirectoryOptions { Token = "s3cr3t-token", Datacenter = "witness" }, consul);

        var error = await Assert.ThrowsAsync<DirectoryStoreException>(() =>
            store.TryUpdateShardAsync(new ShardKey("acme", "a"), 1, new ShardUpdate { OwnerRegion = "b" }, default));

        var request = Assert.Single(consul.Requests);
        Assert.Equal("s3cr3t-token", request.Token);
        Assert.Equal("dc=witness", request.Query);
        Assert.Contains("500", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cr3t", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TrySetShardStateAsync_ReplayedConsulResponses_WritesOnlyTheStateWithCasOfModifyIndex()
    {
        // Epoch 4 and a lease: the write must carry both unchanged (a state change does not fence the shard's writers).
        var consul = new ReplayedConsul()
            .On(HttpMethod.Get, ShardA, ReplayedConsul.Json($"[{ReplayedConsul.Entry("geo/directory/shards/acme/a", LeasedShardDocument, 9, 200)}]", 200))
            .On(HttpMethod.Put, ShardA, ReplayedConsul.Bool(true), "cas=200");
        await using var store = new ConsulDirectoryStore(new ConsulDirectoryOptions(), consul);

        var result = await store.TrySetShardStateAsync(AcmeA, ShardState.Provisioning, ShardState.Active, default);

        Assert.Equal(ShardUpdateOutcome.Updated, result.Outcome);
        Assert.Equal(
            new Shard(AcmeA, "b", "a", 4, ShardState.Active, new ShardLease("dr-1", new DateTimeOffset(2030, 1, 1, 0, 0, 0, TimeSpan.Zero)), "geo_acme_a"),
            result.Current);
        var expected = JsonNode.Parse(LeasedShardDocument)!;
        expected["state"] = "active";
        var put = consul.Requests.Single(r => r.Method == HttpMethod.Put);
        Assert.True(JsonNode.DeepEquals(expected, JsonNode.Parse(put.Body)), put.Body);
    }

    [Fact]
    public async Task TrySetShardStateAsync_ReplayedConsulResponsesOtherState_StateMismatchWithCurrentAndNoWrite()
    {
        var consul = new ReplayedConsul()
            .On(HttpMethod.Get, ShardA, ReplayedConsul.Json($"[{ReplayedConsul.Entry("geo/directory/shards/acme/a", ShardADocument, 9, 200)}]", 200));
        await using var store = new ConsulDirectoryStore(new ConsulDirectoryOptions(), consul);

        var result = await store.TrySetShardStateAsync(AcmeA, ShardState.Provisioning, ShardState.Active, default);

        Assert.Equal(ShardUpdateOutcome.StateMismatch, result.Outcome);
        Assert.Equal((ShardState.Active, 1L, "a"), (result.Current!.State, result.Current.Epoch, result.Current.OwnerRegion));
        Assert.DoesNotContain(consul.Requests, r => r.Method == HttpMethod.Put);
    }

    [Fact]
    public async Task TrySetShardStateAsync_ReplayedConsulResponsesCasLostToStateChange_RereadsAndReportsStateMismatch()
    {
        // Our PUT ?cas=200 answers false: another process activated the shard between our read and write.
        var consul = new ReplayedConsul()
            .On(HttpMethod.Get, ShardA, ReplayedConsul.Json($"[{ReplayedConsul.Entry("geo/directory/shards/acme/a", LeasedShardDocument, 9, 200)}]", 200))
            .On(HttpMethod.Put, ShardA, ReplayedConsul.Bool(false), "cas=200")
            .On(HttpMethod.Get, ShardA, ReplayedConsul.Json(
                $"[{ReplayedConsul.Entry("geo/directory/shards/acme/a", LeasedShardDocument.Replace("provisioning", "active", StringComparison.Ordinal), 9, 201)}]", 201));
        await using var store = new ConsulDirectoryStore(new ConsulDirectoryOptions(), consul);

        var result = await store.TrySetShardStateAsync(AcmeA, ShardState.Provisioning, ShardState.Active, default);

        Assert.Equal(ShardUpdateOutcome.StateMismatch, result.Outcome);
        Assert.Equal(ShardState.Active, result.Current!.State);
        Assert.Single(consul.Requests, r => r.Method == HttpMethod.Put);
    }

    [Fact]
    public async Task TrySetShardStateAsync_ReplayedConsulResponsesMissingKey_NotFound()
    {
        var consul = new ReplayedConsul().On(HttpMethod.Get, ShardA, ReplayedConsul.NotFound(200));
        await using var store = new ConsulDirectoryStore(new ConsulDirectoryOptions(), consul);

        var result = await store.TrySetShardStateAsync(AcmeA, ShardState.Active, ShardState.Retiring, default);

        Assert.Equal(ShardUpdateOutcome.NotFound, result.Outcome);
        Assert.Null(result.Current);
        Assert.DoesNotContain(consul.Requests, r => r.Method == HttpMethod.Put);
    }

    [Theory]
    [InlineData("provisioning")]
    [InlineData("retiring")]
    public async Task DeleteShardAsync_ReplayedConsulResponsesOutOfService_DeletesTheShardKeyWithCasAndItsOwnerLeaseInOneTxn(string state)
    {
        var consul = new ReplayedConsul()
            .On(HttpMethod.Get, ShardA, ReplayedConsul.Json($"[{ReplayedConsul.Entry("geo/directory/shards/acme/a", WithState(ShardADocument, state), 9, 300)}]", 300))
            .On(HttpMethod.Put, Txn, TxnApplied("[]"));
        await using var store = new ConsulDirectoryStore(new ConsulDirectoryOptions(), consul);

        var deleted = await store.DeleteShardAsync(AcmeA, default);

        Assert.True(deleted);
        var txn = Assert.Single(consul.Requests, r => r.Method != HttpMethod.Get);
        Assert.Equal([("delete-cas", "geo/directory/shards/acme/a", 300UL), ("delete", "geo/owner-leases/acme/a", null)], TxnOps(txn).Select(o => (o.Verb, o.Key, o.Index)));
        // Placements stay for the caller and the orphan sweeper (see DeleteShardAsync): no placement bucket is touched.
        Assert.All(consul.Requests, r => Assert.Contains(r.Path, new[] { ShardA, Txn }));
    }

    [Theory]
    [InlineData("active")]
    [InlineData("promoting")]
    [InlineData("switching")]
    [InlineData("fenced")]
    public async Task DeleteShardAsync_ReplayedConsulResponsesInService_RefusedWithoutDelete(string state)
    {
        var consul = new ReplayedConsul()
            .On(HttpMethod.Get, ShardA, ReplayedConsul.Json($"[{ReplayedConsul.Entry("geo/directory/shards/acme/a", WithState(ShardADocument, state), 9, 300)}]", 300));
        await using var store = new ConsulDirectoryStore(new ConsulDirectoryOptions(), consul);

        var deleted = await store.DeleteShardAsync(AcmeA, default);

        Assert.False(deleted);
        Assert.All(consul.Requests, r => Assert.Equal(HttpMethod.Get, r.Method));
    }

    [Fact]
    public async Task DeleteShardAsync_ReplayedConsulResponsesMissingKey_False()
    {
        var consul = new ReplayedConsul().On(HttpMethod.Get, ShardA, ReplayedConsul.NotFound(300));
        await using var store = new ConsulDirectoryStore(new ConsulDirectoryOptions(), consul);

        Assert.False(await store.DeleteShardAsync(AcmeA, default));
        Assert.All(consul.Requests, r => Assert.Equal(HttpMethod.Get, r.Method));
    }

    [Fact]
    public async Task DeleteShardAsync_ReplayedConsulResponsesCasLostToLeaseRenewal_RetriesAndDeletes()
    {
        // The competing write only renewed a lease: the shard is still retiring and is removed on the second try.
        var retiring = WithState(ShardADocument, "retiring");
        var renewed = retiring.Replace("}", ""","leaseHolder":"dr-1","leaseExpiresAt":"2030-01-01T00:00:00+00:00"}""", StringComparison.Ordinal);
        var consul = new ReplayedConsul()
            .On(HttpMethod.Get, ShardA, ReplayedConsul.Json($"[{ReplayedConsul.Entry("geo/directory/shards/acme/a", retiring, 9, 300)}]", 300))
            .On(HttpMethod.Put, Txn, TxnRolledBack(0))
            .On(HttpMethod.Get, ShardA, ReplayedConsul.Json($"[{ReplayedConsul.Entry("geo/directory/shards/acme/a", renewed, 9, 305)}]", 305))
            .On(HttpMethod.Put, Txn, TxnApplied("[]"));
        await using var store = new ConsulDirectoryStore(new ConsulDirectoryOptions(), consul);

        var deleted = await store.DeleteShardAsync(AcmeA, default);

        Assert.True(deleted);
        Assert.Equal([300UL, 305UL], consul.Requests.Where(r => r.Path == Txn).Select(r => TxnOps(r)[0].Index));
    }

    [Fact]
    public async Task DeleteShardAsync_ReplayedConsulResponsesCasLostToActivation_False()
    {
        var consul = new ReplayedConsul()
            .On(HttpMethod.Get, ShardA, ReplayedConsul.Json($"[{ReplayedConsul.Entry("geo/directory/shards/acme/a", WithState(ShardADocument, "provisioning"), 9, 300)}]", 300))
            .On(HttpMethod.Put, Txn, TxnRolledBack(0))
            .On(HttpMethod.Get, ShardA, ReplayedConsul.Json($"[{ReplayedConsul.Entry("geo/directory/shards/acme/a", ShardADocument, 9, 301)}]", 301));
        await using var store = new ConsulDirectoryStore(new ConsulDirectoryOptions(), consul);

        Assert.False(await store.DeleteShardAsync(AcmeA, default));
        Assert.Single(consul.Requests, r => r.Path == Txn);
    }

    [Fact]
    public async Task DeleteTenantAsync_ReplayedConsulResponsesShardLeft_RefusedWithoutDelete()
    {
        var consul = new ReplayedConsul()
            .On(HttpMethod.Get, AcmeShards, ReplayedConsul.Json($"[{ReplayedConsul.Entry("geo/directory/shards/acme/a", WithState(ShardADocument, "retiring"), 9, 300)}]", 300), "recurse=true");
        await using var store = new ConsulDirectoryStore(new ConsulDirectoryOptions(), consul);

        var deleted = await store.DeleteTenantAsync("acme", default);

        Assert.False(deleted);
        Assert.DoesNotContain(consul.Requests, r => r.Method == HttpMethod.Delete);
    }

    [Fact]
    public async Task DeleteTenantAsync_ReplayedConsulResponsesNoShard_DeletesNasDevicesAndTenantWithCas()
    {
        var consul = new ReplayedConsul()
            .On(HttpMethod.Get, AcmeShards, ReplayedConsul.NotFound(300), "recurse=true")
            .On(HttpMethod.Get, AcmeNas, ReplayedConsul.Json($$"""
                [
                  {{ReplayedConsul.Entry("geo/directory/nas/acme/bng-a", """{"address":"10.0.0.1","primaryRegion":"a"}""", 10, 11)}},
                  {{ReplayedConsul.Entry("geo/directory/nas/acme/bng-b", """{"address":"10.0.0.2","primaryRegion":"b"}""", 12, 13)}}
                ]
                """, 13), "recurse=true")
            .On(HttpMethod.Delete, AcmeNas + "bng-a", ReplayedConsul.Bool(true), "cas=11")
            .On(HttpMethod.Delete, AcmeNas + "bng-b", ReplayedConsul.Bool(true), "cas=13")
            .On(HttpMethod.Get, TenantAcme, ReplayedConsul.Json($$"""[{{ReplayedConsul.Entry("geo/directory/tenants/acme", """{"displayName":"Acme"}""", 8, 8)}}]""", 8))
            .On(HttpMethod.Delete, TenantAcme, ReplayedConsul.Bool(true), "cas=8");
        await using var store = new ConsulDirectoryStore(new ConsulDirectoryOptions(), consul);

        var deleted = await store.DeleteTenantAsync("acme", default);

        Assert.True(deleted);
        Assert.Equal(
            [(AcmeNas + "bng-a", "cas=11"), (AcmeNas + "bng-b", "cas=13"), (TenantAcme, "cas=8")],
            consul.Requests.Where(r => r.Method == HttpMethod.Delete).Select(r => (r.Path, r.Query)));
    }

    [Fact]
    public async Task DeleteTenantAsync_ReplayedConsulResponsesCasLostToApiKey_RetriesAndDeletes()
    {
        // The tenant document changed between our read and our delete (an API key was issued): decided again.
        var consul = new ReplayedConsul()
            .On(HttpMethod.Get, AcmeShards, (_, _) => Task.FromResult(ReplayedConsul.NotFound(300)), "recurse=true")
            .On(HttpMethod.Get, AcmeNas, (_, _) => Task.FromResult(ReplayedConsul.NotFound(300)), "recurse=true")
            .On(HttpMethod.Get, TenantAcme, ReplayedConsul.Json($$"""[{{ReplayedConsul.Entry("geo/directory/tenants/acme", """{"displayName":"Acme"}""", 8, 8)}}]""", 8))
            .On(HttpMethod.Delete, TenantAcme, ReplayedConsul.Bool(false), "cas=8")
            .On(HttpMethod.Get, TenantAcme, ReplayedConsul.Json($$"""[{{ReplayedConsul.Entry("geo/directory/tenants/acme", $$"""{"displayName":"Acme","apiKeyHash":"{{Convert.ToBase64String(FirstHash)}}"}""", 8, 9)}}]""", 9))
            .On(HttpMethod.Delete, TenantAcme, ReplayedConsul.Bool(true), "cas=9");
        await using var store = new ConsulDirectoryStore(new ConsulDirectoryOptions(), consul);

        Assert.True(await store.DeleteTenantAsync("acme", default));
        Assert.Equal(2, consul.Requests.Count(r => r.Method == HttpMethod.Delete));
    }

    [Fact]
    public async Task DeleteTenantAsync_ReplayedConsulResponsesUnknownTenant_False()
    {
        var consul = new ReplayedConsul()
            .On(HttpMethod.Get, AcmeShards, ReplayedConsul.NotFound(300), "recurse=true")
            .On(HttpMethod.Get, AcmeNas, ReplayedConsul.NotFound(300), "recurse=true")
            .On(HttpMethod.Get, TenantAcme, ReplayedConsul.NotFound(300));
        await using var store = new ConsulDirectoryStore(new ConsulDirectoryOptions(), consul);

        Assert.False(await store.DeleteTenantAsync("acme", default));
        Assert.DoesNotContain(consul.Requests, r => r.Method == HttpMethod.Delete);
    }

    [Fact]
    public async Task SetTenantApiKeyHashAsync_ReplayedConsulResponsesUnset_WritesBase64HashWithCasAndKeepsDisplayName()
    {
        var consul = new ReplayedConsul()
            .On(HttpMethod.Get, TenantAcme, ReplayedConsul.Json($$"""[{{ReplayedConsul.Entry("geo/directory/tenants/acme", """{"displayName":"Acme"}""", 8, 8)}}]""", 8))
            .On(HttpMethod.Put, TenantAcme, ReplayedConsul.Bool(true), "cas=8");
        await using var store = new ConsulDirectoryStore(new ConsulDirectoryOptions(), consul);

        var set = await store.SetTenantApiKeyHashAsync("acme", FirstHash, onlyIfUnset: true, default);

        Assert.True(set);
        using var written = JsonDocument.Parse(consul.Requests.Single(r => r.Method == HttpMethod.Put).Body);
        Assert.Equal("Acme", written.RootElement.GetProperty("displayName").GetString());
        Assert.Equal(FirstHash, written.RootElement.GetProperty("apiKeyHash").GetBytesFromBase64());
    }

    [Fact]
    public async Task SetTenantApiKeyHashAsync_ReplayedConsulResponsesOnlyIfUnsetAndSet_KeptWithoutWrite()
    {
        var consul = new ReplayedConsul().On(HttpMethod.Get, TenantAcme, TenantWithFirstHash(8));
        await using var store = new ConsulDirectoryStore(new ConsulDirectoryOptions(), consul);

        var set = await store.SetTenantApiKeyHashAsync("acme", SecondHash, onlyIfUnset: true, default);

        Assert.False(set);
        Assert.DoesNotContain(consul.Requests, r => r.Method == HttpMethod.Put);
    }

    [Fact]
    public async Task SetTenantApiKeyHashAsync_ReplayedConsulResponsesReplacing_OverwritesTheHash()
    {
        var consul = new ReplayedConsul()
            .On(HttpMethod.Get, TenantAcme, TenantWithFirstHash(8))
            .On(HttpMethod.Put, TenantAcme, ReplayedConsul.Bool(true), "cas=8");
        await using var store = new ConsulDirectoryStore(new ConsulDirectoryOptions(), consul);

        var set = await store.SetTenantApiKeyHashAsync("acme", SecondHash, onlyIfUnset: false, default);

        Assert.True(set);
        using var written = JsonDocument.Parse(consul.Requests.Single(r => r.Method == HttpMethod.Put).Body);
        Assert.Equal(SecondHash, written.RootElement.GetProperty("apiKeyHash").GetBytesFromBase64());
    }

    [Fact]
    public async Task SetTenantApiKeyHashAsync_ReplayedConsulResponsesCasLostToAnotherIssue_OnlyIfUnsetKeepsTheWinner()
    {
        // Two issuers raced: ours read no key, but the other one's write landed first (cas=8 answers false).
        var consul = new ReplayedConsul()
            .On(HttpMethod.Get, TenantAcme, ReplayedConsul.Json($$"""[{{ReplayedConsul.Entry("geo/directory/tenants/acme", """{"displayName":"Acme"}""", 8, 8)}}]""", 8))
            .On(HttpMethod.Put, TenantAcme, ReplayedConsul.Bool(false), "cas=8")
            .On(HttpMethod.Get, TenantAcme, TenantWithFirstHash(9));
        await using var store = new ConsulDirectoryStore(new ConsulDirectoryOptions(), consul);

        var set = await store.SetTenantApiKeyHashAsync("acme", SecondHash, onlyIfUnset: true, default);

        Assert.False(set);
        Assert.Single(consul.Requests, r => r.Method == HttpMethod.Put);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task SetTenantApiKeyHashAsync_ReplayedConsulResponsesUnknownTenant_FalseWithoutWrite(bool onlyIfUnset)
    {
        var consul = new ReplayedConsul().On(HttpMethod.Get, TenantAcme, ReplayedConsul.NotFound(8));
        await using var store = new ConsulDirectoryStore(new ConsulDirectoryOptions(), consul);

        Assert.False(await store.SetTenantApiKeyHashAsync("acme", FirstHash, onlyIfUnset, default));
        Assert.DoesNotContain(consul.Requests, r => r.Method == HttpMethod.Put);
    }

    [Fact]
    public async Task UpsertTenantAsync_ReplayedConsulResponsesAfterSetTenantApiKeyHash_KeepsTheHash()
    {
        // The tenant key as Consul holds it: each GET answers the value of the last accepted PUT.
        var consul = new ReplayedConsul();
        var value = """{"displayName":"Acme"}""";
        ulong modifyIndex = 8;
        consul
            .On(HttpMethod.Get, TenantAcme, (_, _) =>
                Task.FromResult(ReplayedConsul.Json($"[{ReplayedConsul.Entry("geo/directory/tenants/acme", value, 8, modifyIndex)}]", modifyIndex)))
            .On(HttpMethod.Put, TenantAcme, (request, _) =>
            {
                var accepted = request.Query == "cas=" + modifyIndex.ToString(CultureInfo.InvariantCulture);
                if (accepted)
                {
                    value = request.Body;
                    modifyIndex++;
                }

                return Task.FromResult(ReplayedConsul.Bool(accepted));
            });
        await using var store = new ConsulDirectoryStore(new ConsulDirectoryOptions(), consul);

        Assert.True(await store.SetTenantApiKeyHashAsync("acme", FirstHash, onlyIfUnset: true, default));
        await store.UpsertTenantAsync(new Tenant("acme", "Acme Broadband"), default);

        using var stored = JsonDocument.Parse(value);
        Assert.Equal("Acme Broadband", stored.RootElement.GetProperty("displayName").GetString());
        Assert.Equal(FirstHash, stored.RootElement.GetProperty("apiKeyHash").GetBytesFromBase64());
        Assert.Equal(10UL, modifyIndex);
        Assert.False(await store.SetTenantApiKeyHashAsync("acme", SecondHash, onlyIfUnset: true, default));
    }

    [Fact]
    public async Task UpsertTenantAsync_ReplayedConsulResponsesNewTenant_CreatesWithCasZeroAndNoHash()
    {
        var consul = new ReplayedConsul()
            .On(HttpMethod.Get, TenantAcme, ReplayedConsul.NotFound(8))
            .On(HttpMethod.Put, TenantAcme, ReplayedConsul.Bool(true), "cas=0");
        await using var store = new ConsulDirectoryStore(new ConsulDirectoryOptions(), consul);

        await store.UpsertTenantAsync(new Tenant("acme", "Acme"), default);

        using var written = JsonDocument.Parse(consul.Requests.Single(r => r.Method == HttpMethod.Put).Body);
        Assert.Equal("Acme", written.RootElement.GetProperty("displayName").GetString());
        Assert.False(written.RootElement.TryGetProperty("apiKeyHash", out _));
    }

    [Fact]
    public async Task RenewOwnerLeasesAsync_ReplayedConsulResponses_ReadsTheShardsThenOneTxnCheckingEachRowAndSettingItsLease()
    {
        var consul = new ReplayedConsul()
            .On(HttpMethod.Get, AllShards, ReplayedConsul.Json($$"""
                [
                  {{ReplayedConsul.Entry("geo/directory/shards/acme/a", ShardADocument, 9, 200)}},
                  {{ReplayedConsul.Entry("geo/directory/shards/acme/b", """{"owner":"b","standby":"a","epoch":1,"state":"active","databaseName":"geo_acme_b"}""", 10, 210)}}
                ]
                """, 210), "recurse=true")
            .On(HttpMethod.Put, Txn, TxnApplied("[]"));
        await using var store = new ConsulDirectoryStore(new ConsulDirectoryOptions(), consul, new FakeTimeProvider(Now));

        var renewal = await store.RenewOwnerLeasesAsync("a", [(AcmeA, 1), (new ShardKey("acme", "b"), 1)], TimeSpan.FromSeconds(4), default);

        Assert.Equal(Now, renewal.DirectoryNow);
        Assert.Equal([new OwnerLease(AcmeA, "a", 1, Now.AddSeconds(4), Now)], renewal.Granted);
        Assert.Equal([HttpMethod.Get, HttpMethod.Put], consul.Requests.Select(r => r.Method));
        var operations = TxnOps(consul.Requests[1]);
        Assert.Equal([("check-index", "geo/directory/shards/acme/a", (ulong?)200), ("set", "geo/owner-leases/acme/a", null)], operations.Select(o => (o.Verb, o.Key, o.Index)));
        Assert.True(JsonNode.DeepEquals(
            JsonNode.Parse("""{"holder":"a","epoch":1,"expiresAt":"2030-01-01T00:00:04+00:00","renewedAt":"2030-01-01T00:00:00+00:00"}"""),
            JsonNode.Parse(operations[1].Value!)), operations[1].Value);
    }

    [Fact]
    public async Task RenewOwnerLeasesAsync_ReplayedConsulResponsesTxnRolledBack_RereadsAndLeavesOutTheShardThatMoved()
    {
        // The promotion's compare-and-set landed between our read and our transaction: check-index fails, nothing is
        // written, and on the second read the shard is promoting at epoch 2: no lease at epoch 1 any more.
        var promoting = ShardADocument.Replace("\"epoch\":1", "\"epoch\":2", StringComparison.Ordinal).Replace("active", "promoting", StringComparison.Ordinal);
        var consul = new ReplayedConsul()
            .On(HttpMethod.Get, AllShards, ReplayedConsul.Json($"[{ReplayedConsul.Entry("geo/directory/shards/acme/a", ShardADocument, 9, 200)}]", 200), "recurse=true")
            .On(HttpMethod.Put, Txn, TxnRolledBack(0))
            .On(HttpMethod.Get, AllShards, ReplayedConsul.Json($"[{ReplayedConsul.Entry("geo/directory/shards/acme/a", promoting, 9, 201)}]", 201), "recurse=true");
        await using var store = new ConsulDirectoryStore(new ConsulDirectoryOptions(), consul, new FakeTimeProvider(Now));

        var renewal = await store.RenewOwnerLeasesAsync("a", [(AcmeA, 1)], TimeSpan.FromSeconds(4), default);

        Assert.Empty(renewal.Granted);
        Assert.Single(consul.Requests, r => r.Path == Txn);
    }

    [Fact]
    public async Task RenewOwnerLeasesAsync_ReplayedConsulResponses65Shards_TxnsWithin128Operations()
    {
        var keys = Enumerable.Range(0, 65).Select(i => new ShardKey($"t{i:d2}", "a")).ToList();
        var rows = string.Join(",", keys.Select((k, i) => ReplayedConsul.Entry($"geo/directory/shards/{k.TenantId}/a",
            ShardADocument.Replace("geo_acme_a", $"geo_{k.TenantId}_a", StringComparison.Ordinal), 9, 300 + (ulong)i)));
        var consul = new ReplayedConsul()
            .On(HttpMethod.Get, AllShards, ReplayedConsul.Json($"[{rows}]", 400), "recurse=true")
            .On(HttpMethod.Put, Txn, (_, _) => Task.FromResult(TxnApplied("[]")));
        await using var store = new ConsulDirectoryStore(new ConsulDirectoryOptions(), consul, new FakeTimeProvider(Now));

        var renewal = await store.RenewOwnerLeasesAsync("a", [.. keys.Select(k => (k, 1L))], TimeSpan.FromSeconds(4), default);

        Assert.Equal(keys, renewal.Granted.Select(l => l.Key));
        Assert.Equal([128, 2], consul.Requests.Where(r => r.Path == Txn).Select(r => TxnOps(r).Count));
    }

    [Fact]
    public async Task ReleaseOwnerLeasesAsync_ReplayedConsulResponses_CasOnTheRegionsRunningLeasesOnly()
    {
        const string Running = """{"holder":"a","epoch":3,"expiresAt":"2030-01-01T00:00:03+00:00","renewedAt":"2029-12-31T23:59:59+00:00"}""";
        var consul = new ReplayedConsul()
            .On(HttpMethod.Get, OwnerLeases, ReplayedConsul.Json($$"""
                [
                  {{ReplayedConsul.Entry("geo/owner-leases/acme/a", Running, 40, 50)}},
                  {{ReplayedConsul.Entry("geo/owner-leases/acme/b", Running.Replace("\"a\"", "\"b\"", StringComparison.Ordinal), 41, 51)}},
                  {{ReplayedConsul.Entry("geo/owner-leases/zenith/a", """{"holder":"a","epoch":1,"expiresAt":"2029-12-31T23:59:00+00:00","renewedAt":"2029-12-31T23:58:56+00:00"}""", 42, 52)}}
                ]
                """, 52), "recurse=true")
            .On(HttpMethod.Put, Txn, TxnApplied("[]"));
        await using var store = new ConsulDirectoryStore(new ConsulDirectoryOptions(), consul, new FakeTimeProvider(Now));

        await store.ReleaseOwnerLeasesAsync("a", default);

        var operation = Assert.Single(TxnOps(consul.Requests.Single(r => r.Path == Txn)));
        Assert.Equal(("cas", "geo/owner-leases/acme/a", (ulong?)50), (operation.Verb, operation.Key, operation.Index));
        var expected = JsonNode.Parse(Running)!;
        expected["expiresAt"] = "2030-01-01T00:00:00+00:00";
        Assert.True(JsonNode.DeepEquals(expected, JsonNode.Parse(operation.Value!)), operation.Value);
    }

    [Fact]
    public async Task AppendDrEventAsync_ReplayedConsulResponses_OneSetTxnAndTheIdIsItsCreateIndex()
    {
        var consul = new ReplayedConsul().On(HttpMethod.Put, Txn, TxnApplied(
            """[{"KV":{"LockIndex":0,"Key":"geo/dr-events/acme/a/x","Flags":0,"Value":null,"CreateIndex":812,"ModifyIndex":812}}]"""));
        await using var store = new ConsulDirectoryStore(new ConsulDirectoryOptions(), consul, new FakeTimeProvider(Now));
        var given = new DrEvent(5, default, AcmeA, DrOperations.Promote, "flip-owner", DrOutcomes.Done, "owner b at epoch 3", "ops-alice", """{"epoch":3}""", 12.5);

        var appended = await store.AppendDrEventAsync(given, default);

        Assert.Equal(given with { Id = 812, At = Now }, appended);
        var operation = Assert.Single(TxnOps(Assert.Single(consul.Requests)));
        Assert.Equal("set", operation.Verb);
        Assert.StartsWith("geo/dr-events/acme/a/", operation.Key, StringComparison.Ordinal);
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""
            {"at":"2030-01-01T00:00:00+00:00","operation":"promote","step":"flip-owner","outcome":"done","detail":"owner b at epoch 3",
             "operator":"ops-alice","data":"{\"epoch\":3}","elapsedMs":12.5}
            """), JsonNode.Parse(operation.Value!)), operation.Value);
    }

    [Fact]
    public async Task ListDrEventsAsync_ReplayedConsulResponsesOneShard_ItsPrefixOrderedByCreateIndex()
    {
        var consul = new ReplayedConsul().On(HttpMethod.Get, "/v1/kv/geo/dr-events/acme/a/", ReplayedConsul.Json($$"""
            [
              {{ReplayedConsul.Entry("geo/dr-events/acme/a/0f", """{"at":"2030-01-01T00:00:02+00:00","operation":"promote","step":"flip-owner","outcome":"done","detail":""}""", 900, 900)}},
              {{ReplayedConsul.Entry("geo/dr-events/acme/a/a1", """{"at":"2030-01-01T00:00:01+00:00","operation":"promote","step":"wait-lease","outcome":"started","detail":"","elapsedMs":3}""", 812, 812)}}
            ]
            """, 900), "recurse=true");
        await using var store = new ConsulDirectoryStore(new ConsulDirectoryOptions(), consul);

        var events = await store.ListDrEventsAsync(AcmeA, 10, default);

        Assert.Equal([
            new DrEvent(812, Now.AddSeconds(1), AcmeA, "promote", "wait-lease", "started", "", null, null, 3),
            new DrEvent(900, Now.AddSeconds(2), AcmeA, "promote", "flip-owner", "done", "", null, null, null),
        ], events);
    }

    [Fact]
    public void BucketOf_Username_StableFnv1aModulo4096()
    {
        // FNV-1a 32 of "a" is 0xE40C292C; 0xE40C292C mod 4096 = 0x92C.
        Assert.Equal(0x92C, ConsulDirectoryStore.BucketOf("a"));
        Assert.Equal(ConsulDirectoryStore.BucketOf("alice@acme"), ConsulDirectoryStore.BucketOf("alice@acme"));
        Assert.InRange(ConsulDirectoryStore.BucketOf("jürgen"), 0, 4095);
    }

    /// <summary><c>PUT /v1/txn</c> applied (200) with these results.</summary>
    private static HttpResponseMessage TxnApplied(string resultsJson) => ReplayedConsul.Json($$"""{"Results":{{resultsJson}},"Errors":null}""", 0);

    /// <summary><c>PUT /v1/txn</c> rolled back (409): the operation at <paramref name="opIndex"/> failed its check.</summary>
    private static HttpResponseMessage TxnRolledBack(int opIndex) => ReplayedConsul.Json(
        $$"""{"Results":null,"Errors":[{"OpIndex":{{opIndex}},"What":"failed to delete key \"geo/directory/shards/acme/a\", index is stale"}]}""", 0, HttpStatusCode.Conflict);

    /// <summary>The KV operations of a recorded <c>PUT /v1/txn</c>, values decoded from base64.</summary>
    private static List<(string Verb, string Key, ulong? Index, string? Value)> TxnOps(ReplayedConsul.Recorded request) =>
        [.. JsonNode.Parse(request.Body)!.AsArray().Select(o => o!["KV"]!).Select(kv => (
            (string)kv["Verb"]!, (string)kv["Key"]!, kv["Index"] is { } index ? (ulong?)(ulong)index : null,
            kv["Value"] is { } value ? System.Text.Encoding.UTF8.GetString(Convert.FromBase64String((string)value!)) : null))];

    private static string WithState(string shardDocument, string state) =>
        shardDocument.Replace("\"state\":\"active\"", $"\"state\":\"{state}\"", StringComparison.Ordinal);

    private static HttpResponseMessage TenantWithFirstHash(ulong modifyIndex) => ReplayedConsul.Json(
        $$"""[{{ReplayedConsul.Entry("geo/directory/tenants/acme", $$"""{"displayName":"Acme","apiKeyHash":"{{Convert.ToBase64String(FirstHash)}}"}""", 8, modifyIndex)}}]""",
        modifyIndex);

    private static string BucketPath(string tenant, string username) =>
        $"/v1/kv/geo/placements/{tenant}/{ConsulDirectoryStore.BucketOf(username):x3}";

    /// <summary>
    /// <c>GET /v1/health/service/geo-region</c> in the documented shape: region a has a passing instance and a
    /// critical one; region b only a critical one; an instance without geo-region meta is ignored.
    /// </summary>
    private const string HealthResponse = """
        [
          {
            "Node": {"ID": "40e4a748-2192-161a-0510-9bf59fe950b5", "Node": "node-a1", "Address": "10.1.10.12", "Datacenter": "dc1",
                     "TaggedAddresses": {"lan": "10.1.10.12", "wan": "10.1.10.12"}, "Meta": {"instance_type": "t2.medium"}},
            "Service": {"ID": "geo-region-a1", "Service": "geo-region", "Tags": ["primary"], "Address": "", "Port": 8080,
                        "Meta": {"geo-region": "a", "radius-auth-port": "11812", "radius-acct-port": "11813"},
                        "Weights": {"Passing": 10, "Warning": 1}, "Namespace": "default"},
            "Checks": [
              {"Node": "node-a1", "CheckID": "service:geo-region-a1", "Name": "Service 'geo-region' check", "Status": "passing",
               "Notes": "", "Output": "", "ServiceID": "geo-region-a1", "ServiceName": "geo-region", "ServiceTags": ["primary"], "Namespace": "default"},
              {"Node": "node-a1", "CheckID": "serfHealth", "Name": "Serf Health Status", "Status": "passing",
               "Notes": "", "Output": "", "ServiceID": "", "ServiceName": "", "ServiceTags": [], "Namespace": "default"}
            ]
          },
          {
            "Node": {"ID": "50e4a748-2192-161a-0510-9bf59fe950b5", "Node": "node-a2", "Address": "10.1.10.13", "Datacenter": "dc1"},
            "Service": {"ID": "geo-region-a2", "Service": "geo-region", "Tags": [], "Address": "10.1.10.13", "Port": 8080,
                        "Meta": {"geo-region": "a"}},
            "Checks": [{"Node": "node-a2", "CheckID": "service:geo-region-a2", "Name": "check", "Status": "critical", "ServiceID": "geo-region-a2"}]
          },
          {
            "Node": {"ID": "60e4a748-2192-161a-0510-9bf59fe950b5", "Node": "node-b1", "Address": "10.2.10.12", "Datacenter": "dc1"},
            "Service": {"ID": "geo-region-b1", "Service": "geo-region", "Tags": [], "Address": "10.2.10.40", "Port": 8080,
                        "Meta": {"geo-region": "b"}},
            "Checks": [{"Node": "node-b1", "CheckID": "service:geo-region-b1", "Name": "check", "Status": "critical", "ServiceID": "geo-region-b1"}]
          },
          {
            "Node": {"ID": "70e4a748-2192-161a-0510-9bf59fe950b5", "Node": "node-x", "Address": "10.9.0.1", "Datacenter": "dc1"},
            "Service": {"ID": "other", "Service": "geo-region", "Tags": [], "Address": "", "Port": 1, "Meta": {}},
            "Checks": []
          }
        ]
        """;
}

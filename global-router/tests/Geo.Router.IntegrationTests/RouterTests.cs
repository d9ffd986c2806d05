using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Geo.Directory;
using Geo.Directory.Regions;
using Geo.Directory.Shards;
using Geo.Testing;

namespace Geo.Router.IntegrationTests;

public sealed class RouterTests
{
    [Fact]
    public async Task Forward_SubscriberOfEachShard_ReachesOwnerWithShardAndEpoch()
    {
        await using var stack = await RouterStack.StartAsync();

        using var alice = await stack.Client.GetAsync("/tenants/acme/subscribers/alice/balance?currency=EUR");
        using var bob = await stack.Client.GetAsync("/tenants/acme/subscribers/bob");

        Assert.Equal(HttpStatusCode.OK, alice.StatusCode);
        Assert.Equal(("a", "1"), (Header(alice, GeoHeaders.Region), Header(alice, GeoHeaders.Epoch)));
        var answer = await alice.Content.ReadFromJsonAsync<RegionStandIn.Answer>();
        Assert.Equal(("a", "acme@a", 1L, "/tenants/acme/subscribers/alice/balance"), (answer!.Region, answer.Shard, answer.Epoch, answer.Path));
        Assert.Contains(stack.A.Requests, r => r.Query == "?currency=EUR");
        Assert.Equal(("b", "1"), (Header(bob, GeoHeaders.Region), Header(bob, GeoHeaders.Epoch)));
    }

    [Fact]
    public async Task Forward_ClientSendsGeoHeaders_ReplacedByTheRoutersOwn()
    {
        await using var stack = await RouterStack.StartAsync();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/tenants/acme/subscribers/alice");
        request.Headers.Add(GeoHeaders.Epoch, "999");
        request.Headers.Add(GeoHeaders.Shard, "acme@b");

        using var response = await stack.Client.SendAsync(request);

        var answer = await response.Content.ReadFromJsonAsync<RegionStandIn.Answer>();
        Assert.Equal(("acme@a", 1L), (answer!.Shard, answer.Epoch));
    }

    [Fact]
    public async Task Forward_UnknownSubscriberOrPath_404WithoutTouchingARegion()
    {
        await using var stack = await RouterStack.StartAsync();

        using var unknown = await stack.Client.GetAsync("/tenants/acme/subscribers/nobody");
        using var otherTenant = await stack.Client.GetAsync("/tenants/zenith/subscribers/alice");
        using var otherPath = await stack.Client.GetAsync("/tenants/acme/plans");

        Assert.Equal([HttpStatusCode.NotFound, HttpStatusCode.NotFound, HttpStatusCode.NotFound], new[] { unknown.StatusCode, otherTenant.StatusCode, otherPath.StatusCode });
        Assert.Empty(stack.A.Requests);
        Assert.Empty(stack.B.Requests);
    }

    [Fact]
    public async Task Forward_EpochRaised_NewOwnerServes()
    {
        await using var stack = await RouterStack.StartAsync();
        using (var before = await stack.Client.GetAsync("/tenants/acme/subscribers/alice"))
        {
            Assert.Equal("a", Header(before, GeoHeaders.Region));
        }

        var flip = await stack.Store.TryUpdateShardAsync(RouterStack.AcmeA, 1, new ShardUpdate { OwnerRegion = "b" }, default);
        await Eventually.TrueAsync(async () =>
        {
            using var response = await stack.Client.GetAsync("/tenants/acme/subscribers/alice");
            return Header(response, GeoHeaders.Region) == "b" && Header(response, GeoHeaders.Epoch) == "2";
        }, RouterStack.Settle, "alice is served by region b at epoch 2");

        Assert.True(flip.Succeeded);
        Assert.Contains(stack.B.Requests, r => r.Shard == "acme@a" && r.Epoch == 2);
    }

    [Fact]
    public async Task Forward_SnapshotStaleRegionAnswers421_ReloadsAndRetriesAtNewOwner_WriteAppliedOnce()
    {
        await using var stack = await RouterStack.StartAsync();
        // Without the trigger the router's LISTEN hears nothing: its snapshot stays at epoch 1, owner a.
        await stack.ExecuteAsync("ALTER TABLE shards DISABLE TRIGGER shards_changed");
        await stack.Store.TryUpdateShardAsync(RouterStack.AcmeA, 1, new ShardUpdate { OwnerRegion = "b" }, default);
        stack.A.Owns = (shard, _) => shard != "acme@a";

        using var response = await stack.Client.PutAsync("/tenants/acme/subscribers/alice/plan", JsonContent.Create(new { plan = "fiber-500" }));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(("b", "2"), (Header(response, GeoHeaders.Region), Header(response, GeoHeaders.Epoch)));
        var applied = Assert.Single(stack.B.Requests);
        Assert.Equal(("PUT", 2L), (applied.Method, applied.Epoch));
        Assert.Contains("fiber-500", applied.Body, StringComparison.Ordinal);
        var refused = Assert.Single(stack.A.Requests);
        Assert.Equal(1, refused.Epoch);
    }

    [Fact]
    public async Task Forward_RegionAnswers409StaleEpoch_ReloadsAndRetriesAtNewOwner()
    {
        await using var stack = await RouterStack.StartAsync();
        await stack.ExecuteAsync("ALTER TABLE shards DISABLE TRIGGER shards_changed");
        await stack.Store.TryUpdateShardAsync(RouterStack.AcmeA, 1, new ShardUpdate { OwnerRegion = "b" }, default);
        stack.A.Owns = (shard, _) => shard != "acme@a";
        stack.A.RefusalStatus = 409;

        using var response = await stack.Client.PostAsync("/tenants/acme/subscribers/alice/topups", JsonContent.Create(new { amount = 5 }));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(("b", "2"), (Header(response, GeoHeaders.Region), Header(response, GeoHeaders.Epoch)));
        Assert.Contains("\"amount\":5", Assert.Single(stack.B.Requests).Body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Forward_OrdinaryConflict_PassedOnWithItsBody()
    {
        await using var stack = await RouterStack.StartAsync();
        stack.A.Conflicts.Add("/tenants/acme/subscribers/alice/suspend");

        using var response = await stack.Client.PostAsync("/tenants/acme/subscribers/alice/suspend", null);

        Assert.Equal(HttpStatusCode.Conflict, response.StatusCode);
        Assert.Contains("Username taken", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(("a", "1"), (Header(response, GeoHeaders.Region), Header(response, GeoHeaders.Epoch)));
        Assert.Single(stack.A.Requests);
    }

    [Fact]
    public async Task Forward_RegionRefusesEvenAfterReload_503NotALoop()
    {
        await using var stack = await RouterStack.StartAsync();
        stack.A.Owns = (_, _) => false;

        using var response = await stack.Client.DeleteAsync("/tenants/acme/subscribers/alice");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.NotNull(response.Headers.RetryAfter);
        Assert.Equal(2, stack.A.Requests.Count);
    }

    [Fact]
    public async Task Forward_OwnerRegionStopped_503WithRetryAfterAndMarkedDown_OtherRegionStillServes()
    {
        await using var stack = await RouterStack.StartAsync(healthInterval: TimeSpan.FromMinutes(5));
        using (var warm = await stack.Client.GetAsync("/tenants/acme/subscribers/alice"))
        {
            Assert.Equal(HttpStatusCode.OK, warm.StatusCode);
        }

        await stack.A.StopAsync();
        using var down = await stack.Client.GetAsync("/tenants/acme/subscribers/alice");
        using var again = await stack.Client.GetAsync("/tenants/acme/subscribers/alice");
        using var bob = await stack.Client.GetAsync("/tenants/acme/subscribers/bob");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, down.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(1), down.Headers.RetryAfter!.Delta);
        Assert.Equal("1", Header(down, GeoHeaders.Epoch));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, again.StatusCode);
        // Health is checked every 5 minutes here: only the refused forward itself can have marked a down (a region that
        // hangs instead is not marked down by one timeout). How fast the 503 comes is a benchmark's question.
        Assert.Equal(RegionHealth.Down, stack.Router.Health.HealthOf("a"));
        Assert.Equal(HttpStatusCode.OK, bob.StatusCode);
        Assert.Equal("b", Header(bob, GeoHeaders.Region));
    }

    [Fact]
    public async Task Forward_OwnerFailsActiveCheck_503WithoutSendingItAnything()
    {
        await using var stack = await RouterStack.StartAsync();
        stack.A.Ready = false;
        await Eventually.TrueAsync(() => stack.Router.Health.HealthOf("a") == RegionHealth.Down, RouterStack.Settle, "the active check marks region a down");

        using var response = await stack.Client.PostAsync("/tenants/acme/subscribers/alice/topups", JsonContent.Create(new { amount = 10 }));

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.NotNull(response.Headers.RetryAfter);
        Assert.Empty(stack.A.Requests);

        stack.A.Ready = true;
        await Eventually.TrueAsync(() => stack.Router.Health.HealthOf("a") == RegionHealth.Healthy, RouterStack.Settle, "the active check marks region a healthy again");
        using var back = await stack.Client.GetAsync("/tenants/acme/subscribers/alice");
        Assert.Equal(HttpStatusCode.OK, back.StatusCode);
    }

    [Fact]
    public async Task Forward_OwnerDownThenShardPromoted_ServedByNewOwner()
    {
        await using var stack = await RouterStack.StartAsync();
        await stack.A.StopAsync();
        using (var down = await stack.Client.GetAsync("/tenants/acme/subscribers/alice"))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, down.StatusCode);
        }

        await stack.Store.TryUpdateShardAsync(RouterStack.AcmeA, 1, new ShardUpdate { OwnerRegion = "b" }, default);
        await Eventually.TrueAsync(async () =>
        {
            using var response = await stack.Client.GetAsync("/tenants/acme/subscribers/alice");
            return response.StatusCode == HttpStatusCode.OK && Header(response, GeoHeaders.Region) == "b";
        }, RouterStack.Settle, "alice is served by region b after the promotion");
    }

    [Fact]
    public async Task Forward_ShardPromoting_503WithRetryAfter()
    {
        await using var stack = await RouterStack.StartAsync();
        await stack.Store.TryUpdateShardAsync(RouterStack.AcmeB, 1, new ShardUpdate { State = ShardState.Promoting }, default);

        await Eventually.TrueAsync(async () =>
        {
            using var response = await stack.Client.GetAsync("/tenants/acme/subscribers/bob");
            return response.StatusCode == HttpStatusCode.ServiceUnavailable && response.Headers.RetryAfter is not null;
        }, RouterStack.Settle, "bob's shard answers 503 with Retry-After while promoting");
    }

    [Theory]
    [InlineData("""{"username":"carol","region":"b"}""", "b")]
    [InlineData("""{"username":"carol","nasId":"bng-a"}""", "a")]
    [InlineData("""{"username":"carol","nasId":"bng-b"}""", "b")]
    public async Task Create_RegionOrNas_PlacedBeforeTheRowAndSentHome(string body, string home)
    {
        await using var stack = await RouterStack.StartAsync();
        var region = home == "a" ? stack.A : stack.B;
        region.OnCreate = async username => await stack.Store.GetPlacementAsync("acme", username, default) is { } placed && placed.HomeRegion == home;

        using var response = await stack.Client.PostAsync("/tenants/acme/subscribers", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Equal(home, Header(response, GeoHeaders.Region));
        Assert.True(Assert.Single(region.CreateChecks), "the placement was in the directory when the region created the row");
        var forwarded = Assert.Single(region.Requests);
        Assert.Equal(body, forwarded.Body);
        using var lookup = await stack.Client.GetAsync("/tenants/acme/subscribers/carol");
        Assert.Equal(home, Header(lookup, GeoHeaders.Region));
    }

    [Fact]
    public async Task Create_UsernameAlreadyPlaced_GoesToItsHomeWhateverTheRegionAsked()
    {
        await using var stack = await RouterStack.StartAsync();

        using var response = await stack.Client.PostAsJsonAsync("/tenants/acme/subscribers", new { username = "alice", region = "b" });

        Assert.Equal("a", Header(response, GeoHeaders.Region));
        Assert.Equal("a", (await stack.Store.GetPlacementAsync("acme", "alice", default))!.HomeRegion);
    }

    [Fact]
    public async Task Create_HomeRegionDown_503AndNoPlacementWritten()
    {
        await using var stack = await RouterStack.StartAsync();
        stack.B.Ready = false;
        await Eventually.TrueAsync(() => stack.Router.Health.HealthOf("b") == RegionHealth.Down, RouterStack.Settle, "the active check marks region b down");

        using var response = await stack.Client.PostAsJsonAsync("/tenants/acme/subscribers", new { username = "dora", region = "b" });

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Null(await stack.Store.GetPlacementAsync("acme", "dora", default));
    }

    [Theory]
    [InlineData("""not json""", HttpStatusCode.BadRequest)]
    [InlineData("""["erin"]""", HttpStatusCode.BadRequest)]
    [InlineData("""{"region":"a"}""", HttpStatusCode.UnprocessableEntity)]
    [InlineData("""{"username":"erin"}""", HttpStatusCode.UnprocessableEntity)]
    [InlineData("""{"username":"erin","region":"zz"}""", HttpStatusCode.UnprocessableEntity)]
    [InlineData("""{"username":"erin","region":7}""", HttpStatusCode.UnprocessableEntity)]
    [InlineData("""{"username":"erin","nasId":"bng-zz"}""", HttpStatusCode.UnprocessableEntity)]
    public async Task Create_Unplaceable_RefusedWithoutPlacement(string body, HttpStatusCode status)
    {
        await using var stack = await RouterStack.StartAsync();

        using var response = await stack.Client.PostAsync("/tenants/acme/subscribers", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));

        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Null(await stack.Store.GetPlacementAsync("acme", "erin", default));
        Assert.Empty(stack.A.Requests);
        Assert.Empty(stack.B.Requests);
    }

    [Fact]
    public async Task List_TwoShards_PagesMergedInUsernameOrderWithoutGapsOrRepeats()
    {
        await using var stack = await RouterStack.StartAsync();
        stack.A.Subscribers["acme@a"] = ["alice", "carl", "eve", "gus", "ida", "Zed", "ümit"];
        stack.B.Subscribers["acme@b"] = ["bob", "dan", "fay", "hal"];
        var seen = new List<string>();
        string? cursor = null;
        var pages = 0;
        string? regions = null;
        do
        {
            using var response = await stack.Client.GetAsync("/tenants/acme/subscribers?limit=3" + (cursor is null ? "" : "&cursor=" + cursor));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            regions = Header(response, GeoHeaders.Region);
            using var page = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            seen.AddRange(page.RootElement.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("username").GetString()!));
            cursor = page.RootElement.GetProperty("next").GetString();
            pages++;
        }
        while (cursor is not null && pages < 10);

        Assert.Equal(["Zed", "alice", "bob", "carl", "dan", "eve", "fay", "gus", "hal", "ida", "ümit"], seen);
        Assert.Equal(4, pages);
        Assert.Equal("a, b", regions);
        Assert.All(stack.A.Requests, r => Assert.Equal("acme@a", r.Shard));
        Assert.Equal(4, stack.A.Requests.Count);
    }

    [Fact]
    public async Task List_OneRegionOwnsBothShards_AskedOnce()
    {
        await using var stack = await RouterStack.StartAsync();
        stack.B.Subscribers["acme@a"] = ["alice", "carl"];
        stack.B.Subscribers["acme@b"] = ["bob"];
        await stack.Store.TryUpdateShardAsync(RouterStack.AcmeA, 1, new ShardUpdate { OwnerRegion = "b" }, default);
        await Eventually.TrueAsync(() => stack.Router.Directory.Current.TryGetShard(RouterStack.AcmeA, out var s) && s.Epoch == 2, RouterStack.Settle, "the router's directory has acme@a at epoch 2");

        using var response = await stack.Client.GetAsync("/tenants/acme/subscribers");

        using var page = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal(["alice", "bob", "carl"], page.RootElement.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("username").GetString()));
        Assert.Equal("b", Header(response, GeoHeaders.Region));
        Assert.Equal("acme@a=2, acme@b=1", Header(response, GeoHeaders.Epoch));
        Assert.Single(stack.B.Requests);
        Assert.Empty(stack.A.Requests);
    }

    [Fact]
    public async Task List_ShardListedByOldAndNewOwner_OneEntryPerUsername()
    {
        await using var stack = await RouterStack.StartAsync();
        // Region b already serves acme@a (its view moved ahead of the router's): both regions list alice and carl.
        stack.A.Subscribers["acme@a"] = ["alice", "carl"];
        stack.B.Subscribers["acme@a"] = ["alice", "carl"];
        stack.B.Subscribers["acme@b"] = ["bob"];

        using var response = await stack.Client.GetAsync("/tenants/acme/subscribers?limit=2");

        using var page = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal(["alice", "bob"], page.RootElement.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("username").GetString()));
        Assert.Equal(JsonValueKind.String, page.RootElement.GetProperty("next").ValueKind);
    }

    [Fact]
    public async Task List_ShardOwnerDown_503RatherThanAPartialPage()
    {
        await using var stack = await RouterStack.StartAsync();
        stack.B.Subscribers["acme@b"] = ["bob"];
        await stack.A.StopAsync();

        using var response = await stack.Client.GetAsync("/tenants/acme/subscribers");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.NotNull(response.Headers.RetryAfter);
    }

    [Theory]
    [InlineData("limit=0")]
    [InlineData("limit=5000")]
    [InlineData("cursor=not-a-cursor")]
    public async Task List_BadQuery_400(string query)
    {
        await using var stack = await RouterStack.StartAsync();

        using var response = await stack.Client.GetAsync("/tenants/acme/subscribers?" + query);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }

    private static string? Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? string.Join(", ", values) : null;
}

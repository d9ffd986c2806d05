using System.Net;
using System.Net.Http.Json;
using System.Text;
using Geo.Directory;
using Geo.Testing;
using Npgsql;

namespace Geo.Router.IntegrationTests;

/// <summary>
/// The router's own checks: the tenant's API key before any directory read or write, one 404 for everything not
/// the caller's, paths routed exactly as forwarded, bodies checked before placing, and every refusal a problem+json.
/// </summary>
public sealed class RouterAccessTests
{
    [Fact]
    public async Task Create_WithoutKey_401AndNothingPlaced()
    {
        await using var stack = await RouterStack.StartAsync();

        using var response = await stack.Anonymous.PostAsJsonAsync("/tenants/acme/subscribers", new { username = "mallory", region = "a" });

        await AssertProblemAsync(response, HttpStatusCode.Unauthorized);
        Assert.Equal("Bearer", response.Headers.WwwAuthenticate.Single().Scheme);
        Assert.Null(await stack.Store.GetPlacementAsync("acme", "mallory", default));
        AssertNothingForwarded(stack);
    }

    [Theory]
    [InlineData("geo_acme_not-the-key")]
    [InlineData(RouterStack.ZenithKey)]
    public async Task Create_WrongOrOtherTenantsKey_404AndNothingPlaced(string key)
    {
        await using var stack = await RouterStack.StartAsync();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/tenants/acme/subscribers") { Content = JsonContent.Create(new { username = "mallory", region = "a" }) };
        request.Headers.Authorization = new("Bearer", key);

        using var response = await stack.Anonymous.SendAsync(request);

        await AssertProblemAsync(response, HttpStatusCode.NotFound);
        Assert.Null(await stack.Store.GetPlacementAsync("acme", "mallory", default));
        AssertNothingForwarded(stack);
    }

    [Theory]
    [InlineData(null, "/tenants/acme/subscribers/alice", HttpStatusCode.Unauthorized)]
    [InlineData(null, "/tenants/acme/subscribers", HttpStatusCode.Unauthorized)]
    [InlineData(RouterStack.AcmeKey, "/tenants/acme/subscribers/al%01ice", HttpStatusCode.BadRequest)]
    public async Task Get_NoKeyOrBadUsername_ProblemUnlabelledAndNothingForwarded(string? key, string path, HttpStatusCode status)
    {
        await using var stack = await RouterStack.StartAsync();
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Authorization = key is null ? null : new("Bearer", key);

        using var response = await stack.Anonymous.SendAsync(request);

        // A listing without a key was a 502 (the regions' 401s), and a 401 named the subscriber's region.
        await AssertProblemAsync(response, status);
        Assert.False(response.Headers.Contains(GeoHeaders.Region));
        AssertNothingForwarded(stack);
    }

    [Fact]
    public async Task NotFound_NotThereOrNotYours_OneIdenticalAnswer()
    {
        await using var stack = await RouterStack.StartAsync();
        stack.A.Missing.Add("/tenants/acme/subscribers/alice/ledger");
        using var wrongKey = new HttpClient { BaseAddress = stack.Router.Url };
        wrongKey.DefaultRequestHeaders.Authorization = new("Bearer", "geo_acme_not-the-key");

        var answers = new List<HttpResponseMessage>
        {
            await stack.Client.GetAsync("/tenants/acme/subscribers/nobody"),
            await stack.Client.GetAsync("/tenants/zenith/subscribers/zed"),
            await stack.Client.GetAsync("/tenants/zenith/subscribers/nobody"),
            await stack.Client.GetAsync("/tenants/nosuch/subscribers/zed"),
            await stack.Client.GetAsync("/tenants/zenith/subscribers"),
            await wrongKey.GetAsync("/tenants/acme/subscribers/alice"),
            await stack.Client.GetAsync("/tenants/acme/subscribers/alice/ledger"),
        };

        var bodies = new List<string>();
        foreach (var answer in answers)
        {
            using (answer)
            {
                bodies.Add(await AssertProblemAsync(answer, HttpStatusCode.NotFound));
                Assert.False(answer.Headers.Contains(GeoHeaders.Region));
                Assert.False(answer.Headers.Contains(GeoHeaders.Epoch));
            }
        }

        Assert.Single(bodies.Distinct(StringComparer.Ordinal));
        Assert.Empty(stack.B.Requests);
        Assert.Single(stack.A.Requests);
    }

    [Fact]
    public async Task Directory_OnlyWithTheOperatorKey()
    {
        await using var stack = await RouterStack.StartAsync();
        using var operatorClient = new HttpClient { BaseAddress = stack.Router.Url };
        operatorClient.DefaultRequestHeaders.Authorization = new("Bearer", RouterStack.OperatorKey);

        using var anonymous = await stack.Anonymous.GetAsync("/directory");
        using var tenant = await stack.Client.GetAsync("/directory");
        using var operatorAnswer = await operatorClient.GetAsync("/directory");

        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, tenant.StatusCode);
        Assert.DoesNotContain("acme@a", await tenant.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, operatorAnswer.StatusCode);
        Assert.Contains("acme@a", await operatorAnswer.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/tenants/acme/subscribers/alice/../../../zenith/subscribers/zed")]
    [InlineData("/tenants/acme/subscribers/alice/%2E%2E/%2e%2e/../zenith/subscribers/zed")]
    [InlineData("/tenants/acme/subscribers/./alice")]
    [InlineData("/tenants/acme/subscribers/al%2569ce")]
    public async Task Forward_PathThatDecodesOtherwiseWhenForwarded_400AndNothingForwarded(string target)
    {
        await using var stack = await RouterStack.StartAsync();

        var response = await RawHttp.SendAsync(stack.Router.Url, "GET", target, [("Authorization", "Bearer " + RouterStack.AcmeKey)]);

        Assert.Equal(400, response.Status);
        Assert.Equal("application/problem+json", response.Headers["content-type"]);
        AssertNothingForwarded(stack);
    }

    [Fact]
    public async Task Forward_ClientSendsHost_RegionGetsItsOwn()
    {
        await using var stack = await RouterStack.StartAsync();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/tenants/acme/subscribers/alice");
        request.Headers.Host = "evil.example";

        using var response = await stack.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(stack.A.Url.Authority, Assert.Single(stack.A.Requests).Host);
    }

    [Fact]
    public async Task Forward_NulInPath_400BeforeAnyLookup()
    {
        await using var stack = await RouterStack.StartAsync();

        using var response = await stack.Client.GetAsync("/tenants/acme/subscribers/al%00ice");

        // Kestrel refuses a NUL in the path before the router's code runs: a 400 without a body (no hook exists to add one).
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        AssertNothingForwarded(stack);
    }

    [Theory]
    [InlineData("""{"username":"a\u0000b","region":"a"}""", HttpStatusCode.UnprocessableEntity)]
    [InlineData("""{"username":"\ud800","region":"a"}""", HttpStatusCode.BadRequest)]
    [InlineData("""{"username":"ok","region":"a\u0000"}""", HttpStatusCode.UnprocessableEntity)]
    public async Task Create_UsernameWithNulOrBrokenUnicode_RefusedWithoutPlacement(string body, HttpStatusCode status)
    {
        await using var stack = await RouterStack.StartAsync();

        using var response = await stack.Client.PostAsync("/tenants/acme/subscribers", new StringContent(body, Encoding.UTF8, "application/json"));

        await AssertProblemAsync(response, status);
        Assert.Equal(2, await PlacementsAsync(stack));
        AssertNothingForwarded(stack);
    }

    [Theory]
    [InlineData(400)]
    [InlineData(422)]
    public async Task Create_RegionRefuses_PlacementTakenBack(int refusal)
    {
        await using var stack = await RouterStack.StartAsync();
        stack.B.CreateRefusal = refusal;

        using var response = await stack.Client.PostAsJsonAsync("/tenants/acme/subscribers", new { username = "fay", region = "b" });
        using var lookup = await stack.Client.GetAsync("/tenants/acme/subscribers/fay");

        Assert.Equal(refusal, (int)response.StatusCode);
        Assert.Single(stack.B.Requests);
        Assert.Null(await stack.Store.GetPlacementAsync("acme", "fay", default));
        Assert.Equal(HttpStatusCode.NotFound, lookup.StatusCode);
    }

    [Fact]
    public async Task Create_RegionAnswersConflict_PlacementKept()
    {
        await using var stack = await RouterStack.StartAsync();
        stack.B.CreateRefusal = 409;

        using var response = await stack.Client.PostAsJsonAsync("/tenants/acme/subscribers", new { username = "fay", region = "b" });

        // "Exists": a concurrent create may have made the row this placement serves, so it stays (the sweep checks later).
        Assert.Equal(HttpStatusCode.Conflict, response.StatusCode);
        Assert.NotNull(await stack.Store.GetPlacementAsync("acme", "fay", default));
    }

    [Fact]
    public async Task Create_HomeRegionRefusesConnections_503AndPlacementTakenBack()
    {
        await using var stack = await RouterStack.StartAsync(healthInterval: TimeSpan.FromMinutes(5));
        await stack.A.StopAsync();

        using var response = await stack.Client.PostAsJsonAsync("/tenants/acme/subscribers", new { username = "gil", region = "a" });

        await AssertProblemAsync(response, HttpStatusCode.ServiceUnavailable);
        Assert.NotNull(response.Headers.RetryAfter);
        Assert.Null(await stack.Store.GetPlacementAsync("acme", "gil", default));
    }

    [Theory]
    [InlineData("/tenants/acme/subscribers/alice")]
    [InlineData("/tenants/acme/subscribers")]
    public async Task Get_RegionHangs_503WithRetryAfterAfterRegionTimeout(string path)
    {
        // The client waits 10 s; the router's RegionTimeout here is 300 ms: the 503 is the router's, not a client timeout.
        await using var stack = await RouterStack.StartAsync(configure: o => o.RegionTimeout = TimeSpan.FromMilliseconds(300));
        var hang = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        (stack.A.Hang, stack.B.Hang) = (hang, hang);
        try
        {
            using var response = await stack.Client.GetAsync(path);

            var body = await AssertProblemAsync(response, HttpStatusCode.ServiceUnavailable);
            Assert.Equal(TimeSpan.FromSeconds(1), response.Headers.RetryAfter!.Delta);
            Assert.Contains("did not answer", body, StringComparison.Ordinal);
            Assert.NotEmpty(stack.A.Requests);
        }
        finally
        {
            hang.TrySetResult();
        }
    }

    [Fact]
    public async Task Body_OverTheLimit_413DeclaredOrChunked_NothingPlacedOrForwarded()
    {
        await using var stack = await RouterStack.StartAsync(configure: o => o.MaxRequestBodyBytes = 1024);
        var big = new string('x', 4096);

        using var create = await stack.Client.PostAsJsonAsync("/tenants/acme/subscribers", new { username = "hal", region = "a", note = big });
        using var declared = await stack.Client.PutAsync("/tenants/acme/subscribers/alice/plan", new StringContent(big));
        var chunks = string.Concat(Enumerable.Repeat("400\r\n" + big[..1024] + "\r\n", 4)) + "0\r\n\r\n";
        var chunked = await RawHttp.SendAsync(stack.Router.Url, "PUT", "/tenants/acme/subscribers/alice/plan",
            [("Authorization", "Bearer " + RouterStack.AcmeKey), ("Transfer-Encoding", "chunked")], Encoding.ASCII.GetBytes(chunks));

        await AssertProblemAsync(create, HttpStatusCode.RequestEntityTooLarge);
        await AssertProblemAsync(declared, HttpStatusCode.RequestEntityTooLarge);
        Assert.True(chunked.Status == 413, $"{chunked.Status}: {chunked.Body}");
        Assert.Equal("application/problem+json", chunked.Headers["content-type"]);
        Assert.Empty(stack.A.Requests);
        Assert.Null(await stack.Store.GetPlacementAsync("acme", "hal", default));
    }

    [Fact]
    public async Task OrphanSweep_OldPlacementWithoutRow_Removed_RowOrYoungKept()
    {
        await using var stack = await RouterStack.StartAsync();
        var shardDatabase = await (await TestPostgres.SharedAsync()).CreateDatabaseAsync("shard");
        await Sql.ScalarAsync<object>(shardDatabase, "CREATE TABLE subscribers (username text PRIMARY KEY)");
        await Sql.ScalarAsync<object>(shardDatabase, "INSERT INTO subscribers VALUES ('kept')");
        var name = new NpgsqlConnectionStringBuilder(shardDatabase).Database!;
        await stack.ExecuteAsync($"UPDATE shards SET database_name = '{name}' WHERE tenant_id = 'acme' AND home_region = 'a'");
        foreach (var username in new[] { "kept", "orphan", "young" })
        {
            await stack.Store.TryAddPlacementAsync("acme", username, "a", default);
        }

        await stack.ExecuteAsync("UPDATE subscriber_placements SET created_at = now() - interval '1 hour' WHERE username IN ('kept', 'orphan')");
        await Eventually.TrueAsync(() => stack.Router.Directory.Current.TryGetShard(RouterStack.AcmeA, out var s) && s.DatabaseName == name,
            RouterStack.Settle, "the router's directory names the new shard database");

        var removed = await stack.Router.OrphanSweep.SweepOnceAsync(default);

        Assert.True(stack.Router.OrphanSweep.Enabled);
        Assert.Equal(1, removed);
        Assert.Null(await stack.Store.GetPlacementAsync("acme", "orphan", default));
        Assert.NotNull(await stack.Store.GetPlacementAsync("acme", "kept", default));
        Assert.NotNull(await stack.Store.GetPlacementAsync("acme", "young", default));
    }

    private static async Task<string> AssertProblemAsync(HttpResponseMessage response, HttpStatusCode status)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status, $"expected {(int)status}, got {(int)response.StatusCode}: {body}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        using var problem = System.Text.Json.JsonDocument.Parse(body);
        Assert.Equal((int)status, problem.RootElement.GetProperty("status").GetInt32());
        Assert.False(string.IsNullOrWhiteSpace(problem.RootElement.GetProperty("detail").GetString()));
        return body;
    }

    private static void AssertNothingForwarded(RouterStack stack)
    {
        Assert.Empty(stack.A.Requests);
        Assert.Empty(stack.B.Requests);
    }

    private static async Task<long> PlacementsAsync(RouterStack stack) =>
        await Sql.ScalarAsync<long>(stack.DirectoryConnectionString, "SELECT count(*) FROM subscriber_placements WHERE tenant_id = 'acme'");
}

using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Geo.Testing;

namespace Geo.RegionNode.IntegrationTests;

/// <summary>The tenant-scoped HTTP API of the region node, on real PostgreSQL and Redis.</summary>
[Collection(RegionFixtureGroup.Name)]
public sealed class ApiTests(RegionFixture stack)
{
    [Fact]
    public async Task CreateSubscriber_ThenRadius_AuthenticatesWithTheNewPassword()
    {
        using var api = stack.Api();
        var username = $"api-{Guid.NewGuid():N}"[..20];

        using var created = await api.PostAsJsonAsync("/tenants/acme/subscribers", new { username, password = "s3cret-Pass", planId = "home-50" });

        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        Assert.Equal("a", created.Headers.GetValues("Geo-Region").Single());
        var read = await api.GetFromJsonAsync<JsonElement>($"/tenants/acme/subscribers/{username}");
        Assert.Equal("home-50", read.GetProperty("planId").GetString());
        Assert.Equal("active", read.GetProperty("status").GetString());
        Assert.False(read.TryGetProperty("password", out _));
        var (_, output) = await Radclient.SendAsync(stack.Auth, "auth", stack.NasSecret,
            $"User-Name = \"{username}\"\nUser-Password = \"s3cret-Pass\"\nMessage-Authenticator = 0x00\nPacket-Src-IP-Address = {RegionFixture.NasAddress}");
        Assert.Contains("Received Access-Accept", output, StringComparison.Ordinal);
        Assert.Equal("a", await NodeProbe.ScalarAsync<string>(stack.DirectoryConnectionString,
            "SELECT home_region FROM subscriber_placements WHERE tenant_id = 'acme' AND username = $1", username));
    }

    [Fact]
    public async Task CreateSubscriber_InvalidFields_ProblemDetailsNamingEachField()
    {
        using var api = stack.Api();

        using var response = await api.PostAsJsonAsync("/tenants/acme/subscribers", new { username = "", password = new string('x', 200), framedIp = "not-an-ip" });

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        var errors = problem.GetProperty("errors");
        foreach (var field in new[] { "username", "password", "planId", "framedIp" })
        {
            Assert.True(errors.TryGetProperty(field, out _), $"no error for {field}");
        }
    }

    [Fact]
    public async Task CreateSubscriber_MalformedJson_ProblemDetails()
    {
        using var api = stack.Api();

        using var response = await api.PostAsync("/tenants/acme/subscribers", new StringContent("{\"username\": ", Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task CreateSubscriber_Twice_SecondIsConflict()
    {
        using var api = stack.Api();
        var body = new { username = $"dup-{Guid.NewGuid():N}"[..16], password = "pw", planId = "home-50" };
        using var first = await api.PostAsJsonAsync("/tenants/acme/subscribers", body);

        using var second = await api.PostAsJsonAsync("/tenants/acme/subscribers", body);

        Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, second.StatusCode);
    }

    [Fact]
    public async Task TopUp_SameIdempotencyKeyTwice_OneLedgerEntryAndTheFirstResult()
    {
        using var api = stack.Api();
        var (user, _) = stack.Subscriber(39);
        var key = Guid.NewGuid().ToString();

        using var first = await Post(api, $"/tenants/acme/subscribers/{user}/topups", new { amountMicros = 5_000_000, reason = "shop" }, key);
        using var second = await Post(api, $"/tenants/acme/subscribers/{user}/topups", new { amountMicros = 5_000_000, reason = "shop" }, key);
        using var conflicting = await Post(api, $"/tenants/acme/subscribers/{user}/topups", new { amountMicros = 7_000_000, reason = "shop" }, key);

        Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        Assert.Equal("true", second.Headers.GetValues("Idempotent-Replayed").Single());
        Assert.Equal((await first.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid(), (await second.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid());
        Assert.Equal(HttpStatusCode.Conflict, conflicting.StatusCode);
        Assert.Equal(1L, await NodeProbe.ScalarAsync<long>(stack.ShardConnectionString, "SELECT count(*) FROM ledger_entries WHERE idempotency_key = $1", key));
        await AssertLedgerInvariantAsync();
    }

    [Fact]
    public async Task Adjustment_BelowZero_RefusedAndBalanceUnchanged()
    {
        using var api = stack.Api();
        var (user, _) = stack.Subscriber(49);
        var before = (await api.GetFromJsonAsync<JsonElement>($"/tenants/acme/subscribers/{user}/balance")).GetProperty("amountMicros").GetInt64();

        using var response = await Post(api, $"/tenants/acme/subscribers/{user}/adjustments", new { amountMicros = -(before + 1), reason = "too much" }, Guid.NewGuid().ToString());

        Assert.Equal((HttpStatusCode)422, response.StatusCode);
        Assert.Equal(before, (await api.GetFromJsonAsync<JsonElement>($"/tenants/acme/subscribers/{user}/balance")).GetProperty("amountMicros").GetInt64());
        await AssertLedgerInvariantAsync();
    }

    [Fact]
    public async Task Ledger_AfterTopUps_PagedInOrderWithEveryField()
    {
        using var api = stack.Api();
        var (user, _) = stack.Subscriber(61);
        var keys = Enumerable.Range(1, 3).Select(i => $"ledger-{i}-{Guid.NewGuid():N}").ToList();
        foreach (var (key, amount) in keys.Zip([1_000L, 2_000L, 3_000L]))
        {
            using var posted = await Post(api, $"/tenants/acme/subscribers/{user}/topups", new { amountMicros = amount, reason = $"top-up {amount}" }, key);
            Assert.Equal(HttpStatusCode.Created, posted.StatusCode);
        }

        var entries = new List<JsonElement>();
        string? cursor = null;
        do
        {
            var page = await api.GetFromJsonAsync<JsonElement>($"/tenants/acme/subscribers/{user}/ledger?limit=2{(cursor is null ? "" : $"&cursor={cursor}")}");
            entries.AddRange(page.GetProperty("items").EnumerateArray());
            cursor = page.GetProperty("next").GetString();
        }
        while (cursor is not null);

        var topUps = entries.Where(e => keys.Contains(e.GetProperty("idempotencyKey").GetString() ?? "")).ToList();
        Assert.Equal(keys, topUps.Select(e => e.GetProperty("idempotencyKey").GetString()));
        Assert.Equal([1_000L, 2_000L, 3_000L], topUps.Select(e => e.GetProperty("amountMicros").GetInt64()));
        Assert.Equal(["top-up 1000", "top-up 2000", "top-up 3000"], topUps.Select(e => e.GetProperty("reason").GetString()));
        Assert.All(topUps, e => Assert.Equal("topup", e.GetProperty("kind").GetString()));
        Assert.Equal(topUps[0].GetProperty("balanceAfterMicros").GetInt64() + 5_000, topUps[2].GetProperty("balanceAfterMicros").GetInt64());
        var balance = await api.GetFromJsonAsync<JsonElement>($"/tenants/acme/subscribers/{user}/balance");
        Assert.Equal(entries[^1].GetProperty("balanceAfterMicros").GetInt64(), balance.GetProperty("amountMicros").GetInt64());
        Assert.Equal(TimeSpan.Zero, topUps[0].GetProperty("createdAt").GetDateTimeOffset().Offset);
    }

    [Fact]
    public async Task TopUp_WithoutIdempotencyKey_ValidationProblem()
    {
        using var api = stack.Api();
        var (user, _) = stack.Subscriber(59);

        using var response = await api.PostAsJsonAsync($"/tenants/acme/subscribers/{user}/topups", new { amountMicros = 1 });

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.True((await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors").TryGetProperty("Idempotency-Key", out _));
    }

    [Fact]
    public async Task Suspend_ThenResume_RadiusFollows()
    {
        using var api = stack.Api();
        var (user, password) = stack.Subscriber(14);
        var login = $"User-Name = \"{user}\"\nUser-Password = \"{password}\"\nMessage-Authenticator = 0x00\nPacket-Src-IP-Address = {RegionFixture.NasAddress}";
        Assert.Contains("Access-Accept", (await Radclient.SendAsync(stack.Auth, "auth", stack.NasSecret, login)).Output, StringComparison.Ordinal);

        using (var suspended = await api.PostAsync($"/tenants/acme/subscribers/{user}/suspend", null))
        {
            Assert.Equal(HttpStatusCode.OK, suspended.StatusCode);
        }

        Assert.Contains("Account suspended", (await Radclient.SendAsync(stack.Auth, "auth", stack.NasSecret, login)).Output, StringComparison.Ordinal);
        using (var resumed = await api.PostAsync($"/tenants/acme/subscribers/{user}/resume", null))
        {
            Assert.Equal(HttpStatusCode.OK, resumed.StatusCode);
        }

        Assert.Contains("Access-Accept", (await Radclient.SendAsync(stack.Auth, "auth", stack.NasSecret, login)).Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task EveryEndpoint_KeyOfAnotherTenant_NotFound_AndNoKey_Unauthorized()
    {
        using var zenith = stack.Api("zenith");
        using var anonymous = stack.Api(null);
        var (user, _) = stack.Subscriber(20);
        var endpoints = await EndpointsAsync();
        Assert.NotEmpty(endpoints);

        foreach (var (method, template) in endpoints)
        {
            var path = template.Replace("{tenant}", "acme", StringComparison.Ordinal).Replace("{username}", user, StringComparison.Ordinal)
                .Replace("{planId}", "home-50", StringComparison.Ordinal);
            using var foreign = await zenith.SendAsync(Request(method, path));
            using var none = await anonymous.SendAsync(Request(method, path));
            Assert.True(foreign.StatusCode == HttpStatusCode.NotFound, $"{method} {path} with zenith's key: {foreign.StatusCode}");
            Assert.True(none.StatusCode == HttpStatusCode.Unauthorized, $"{method} {path} without a key: {none.StatusCode}");
        }
    }

    [Fact]
    public async Task OpenApiDocument_ParsesAndListsEveryEndpoint()
    {
        var endpoints = (await EndpointsAsync()).Select(e => $"{e.Method} {e.Path}").ToHashSet();

        string[] expected =
        [
            "GET /tenants/{tenant}/subscribers", "POST /tenants/{tenant}/subscribers", "GET /tenants/{tenant}/subscribers/{username}",
            "PATCH /tenants/{tenant}/subscribers/{username}", "DELETE /tenants/{tenant}/subscribers/{username}",
            "POST /tenants/{tenant}/subscribers/{username}/suspend", "POST /tenants/{tenant}/subscribers/{username}/resume",
            "GET /tenants/{tenant}/subscribers/{username}/sessions", "GET /tenants/{tenant}/subscribers/{username}/cdrs",
            "GET /tenants/{tenant}/subscribers/{username}/balance", "GET /tenants/{tenant}/subscribers/{username}/ledger",
            "POST /tenants/{tenant}/subscribers/{username}/topups", "POST /tenants/{tenant}/subscribers/{username}/adjustments",
            "GET /tenants/{tenant}/plans", "PUT /tenants/{tenant}/plans/{planId}",
        ];
        Assert.Empty(expected.Except(endpoints));
    }

    [Fact]
    public async Task Cdrs_AfterAccounting_PagedByCursor()
    {
        using var api = stack.Api();
        var (user, _) = stack.Subscriber(15);
        var session = $"cdr-{Guid.NewGuid():N}";
        for (var i = 0; i < 3; i++)
        {
            var (_, output) = await Radclient.SendAsync(stack.Acct, "acct", stack.NasSecret,
                $"User-Name = \"{user}\"\nAcct-Session-Id = \"{session}\"\nAcct-Status-Type = {(i == 0 ? "Start" : "Interim-Update")}\nAcct-Input-Octets = {i * 1000}\nAcct-Session-Time = {i * 60}\nPacket-Src-IP-Address = {RegionFixture.NasAddress}");
            Assert.Contains("Accounting-Response", output, StringComparison.Ordinal);
        }

        var first = await api.GetFromJsonAsync<JsonElement>($"/tenants/acme/subscribers/{user}/cdrs?limit=2");
        var second = await api.GetFromJsonAsync<JsonElement>($"/tenants/acme/subscribers/{user}/cdrs?limit=2&cursor={first.GetProperty("next").GetString()}");

        var ids = first.GetProperty("items").EnumerateArray().Concat(second.GetProperty("items").EnumerateArray()).Select(c => c.GetProperty("id").GetGuid()).ToList();
        Assert.Equal(3, ids.Count);
        Assert.Equal(ids.Count, ids.Distinct().Count());
        var sessions = await api.GetFromJsonAsync<JsonElement>($"/tenants/acme/subscribers/{user}/sessions");
        Assert.Contains(sessions.EnumerateArray(), s => s.GetProperty("acctSessionId").GetString() == session);
    }

    [Fact]
    public async Task SubscriberOfAnotherRegion_MisdirectedRequest()
    {
        using var api = stack.Api();

        using var response = await api.GetAsync("/tenants/acme/subscribers/acme-b-000001");

        Assert.Equal((HttpStatusCode)421, response.StatusCode);
    }

    [Fact]
    public async Task StaleEpochHeader_Conflict()
    {
        using var api = stack.Api();
        var (user, _) = stack.Subscriber(16);
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/tenants/acme/subscribers/{user}");
        request.Headers.Add("Geo-Epoch", "999");

        using var response = await api.SendAsync(request);

        Assert.Equal(HttpStatusCode.Conflict, response.StatusCode);
    }

    [Fact]
    public async Task PutPlan_ThenCreateOnIt_PlanListed()
    {
        using var api = stack.Api();
        using var put = await api.PutAsJsonAsync("/tenants/acme/plans/student-20", new { displayName = "Student 20M", downloadKbps = 20000, uploadKbps = 5000, simultaneousUse = 1 });
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);

        using var created = await api.PostAsJsonAsync("/tenants/acme/subscribers", new { username = $"stu-{Guid.NewGuid():N}"[..16], password = "pw", planId = "student-20" });

        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var plans = await api.GetFromJsonAsync<JsonElement>("/tenants/acme/plans");
        Assert.Contains(plans.EnumerateArray(), p => p.GetProperty("id").GetString() == "student-20");
    }

    private async Task<List<(string Method, string Path)>> EndpointsAsync()
    {
        using var http = new HttpClient { BaseAddress = stack.Node.ManagementAddress };
        using var document = JsonDocument.Parse(await http.GetStringAsync("/openapi/v1.json"));
        var endpoints = new List<(string, string)>();
        foreach (var path in document.RootElement.GetProperty("paths").EnumerateObject())
        {
            foreach (var operation in path.Value.EnumerateObject())
            {
                if (path.Name.StartsWith("/tenants/", StringComparison.Ordinal))
                {
                    endpoints.Add((operation.Name.ToUpperInvariant(), path.Name));
                }
            }
        }

        return endpoints;
    }

    private static HttpRequestMessage Request(string method, string path) =>
        new(new HttpMethod(method), path) { Content = method is "POST" or "PUT" or "PATCH" ? new StringContent("{}", Encoding.UTF8, "application/json") : null };

    private static Task<HttpResponseMessage> Post(HttpClient api, string path, object body, string idempotencyKey)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = JsonContent.Create(body) };
        request.Headers.Add("Idempotency-Key", idempotencyKey);
        return api.SendAsync(request);
    }

    private async Task AssertLedgerInvariantAsync() =>
        Assert.Equal(0L, await NodeProbe.ScalarAsync<long>(stack.ShardConnectionString, """
            SELECT count(*) FROM balances b
            LEFT JOIN (SELECT subscriber_id, sum(amount_micros) AS total FROM ledger GROUP BY subscriber_id) l USING (subscriber_id)
            WHERE b.amount_micros <> coalesce(l.total, 0)
            """));
}

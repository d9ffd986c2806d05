using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using Geo.Testing;

namespace Geo.Router.IntegrationTests;

/// <summary>
/// The admin API's audit log and named operator keys, through the real router: every change leaves an entry naming
/// the operator key and the caller's address, refused calls too (capped per source), a revoked key is refused by the
/// next request, and no key or secret ever reaches the log.
/// </summary>
public sealed class AdminAuditTests
{
    [Fact]
    public async Task OperatorKeys_TwoNamedKeys_BothWorkAndEachActionIsAuditedUnderItsName()
    {
        await using var stack = await RouterStack.StartAsync();
        using var bootstrap = Operator(stack, RouterStack.OperatorKey);
        var alice = await AddKeyAsync(bootstrap, "alice");
        var bob = await AddKeyAsync(bootstrap, "bob.ops");
        using var asAlice = Operator(stack, alice);
        using var asBob = Operator(stack, bob);

        using var aliceRead = await asAlice.GetAsync("/admin/tenants");
        using var rotated = await asAlice.PostAsync("/admin/tenants/acme/key", null);
        using var bobRotated = await asBob.PostAsync("/admin/tenants/zenith/key", null);

        Assert.Equal(HttpStatusCode.OK, aliceRead.StatusCode);
        Assert.Equal(HttpStatusCode.OK, rotated.StatusCode);
        Assert.Equal(HttpStatusCode.OK, bobRotated.StatusCode);
        var acmeKey = (await rotated.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("apiKey").GetString()!;
        var zenithKey = (await bobRotated.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("apiKey").GetString()!;
        Assert.Equal(
            ["bootstrap operator_key.add - 127.0.0.1 ok {\"name\": \"alice\"}", "bootstrap operator_key.add - 127.0.0.1 ok {\"name\": \"bob.ops\"}",
             "alice tenant.key.rotate acme 127.0.0.1 ok {}", "bob.ops tenant.key.rotate zenith 127.0.0.1 ok {}"],
            await EntriesAsync(stack));
        await AssertNoSecretAsync(stack, RouterStack.OperatorKey, alice, bob, acmeKey, zenithKey);
    }

    [Fact]
    public async Task RevokedKey_RefusedByTheNextRequestAndAuditedUnderItsName()
    {
        await using var stack = await RouterStack.StartAsync();
        using var bootstrap = Operator(stack, RouterStack.OperatorKey);
        var carol = await AddKeyAsync(bootstrap, "carol");
        using var asCarol = Operator(stack, carol);
        using (var before = await asCarol.GetAsync("/directory"))
        {
            Assert.Equal(HttpStatusCode.OK, before.StatusCode);
        }

        using var revoked = await bootstrap.DeleteAsync("/admin/operator-keys/carol");
        using var after = await asCarol.PostAsync("/admin/tenants/acme/key", null);
        using var again = await bootstrap.DeleteAsync("/admin/operator-keys/carol");

        Assert.Equal(HttpStatusCode.OK, revoked.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, after.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, again.StatusCode);
        var entries = await EntriesAsync(stack);
        Assert.Contains("bootstrap operator_key.revoke - 127.0.0.1 ok {\"name\": \"carol\"}", entries);
        Assert.Contains("carol tenant.key.rotate acme 127.0.0.1 refused: operator key revoked {}", entries);
        Assert.Contains("bootstrap operator_key.revoke - 127.0.0.1 failed: no working operator key named carol {\"name\": \"carol\"}", entries);
        using var listed = await bootstrap.GetAsync("/admin/operator-keys");
        var key = Assert.Single((await listed.Content.ReadFromJsonAsync<JsonElement>()).EnumerateArray());
        Assert.Equal(JsonValueKind.String, key.GetProperty("revoked").ValueKind);
        Assert.DoesNotContain(carol, key.GetRawText(), StringComparison.Ordinal);
        await AssertNoSecretAsync(stack, RouterStack.OperatorKey, carol);
    }

    [Fact]
    public async Task WrongKey_RefusedAuditedAsUnknown_CappedPerSource()
    {
        await using var stack = await RouterStack.StartAsync(configure: o =>
        {
            o.Admin.RefusedAuditPerSource = 3;
            // Far longer than the test: the window does not end between the calls however slow the machine.
            o.Admin.RefusedAuditWindow = TimeSpan.FromHours(1);
        });
        const string WrongKey = "geo_operator_guess-0123456789";
        using var guesser = Operator(stack, WrongKey);

        var answers = new List<HttpStatusCode>();
        for (var i = 0; i < 6; i++)
        {
            using var response = await guesser.PostAsJsonAsync("/admin/tenants", new { id = "evil", shards = new[] { new { home = "a" } } });
            answers.Add(response.StatusCode);
        }

        using var anonymous = await stack.Anonymous.GetAsync("/directory");

        Assert.All(answers, status => Assert.Equal(HttpStatusCode.Unauthorized, status));
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        // Three written, the rest (the anonymous read included: same source) only counted.
        Assert.Equal(Enumerable.Repeat("unknown tenant.create - 127.0.0.1 refused: wrong operator key {}", 3), await EntriesAsync(stack));
        await AssertNoSecretAsync(stack, WrongKey);
    }

    [Fact]
    public async Task CreateAndAbort_Audited_WithShardsAndReason_ReadableThroughTheApi()
    {
        // Region b on a server of its own: a lifecycle command locks the tenant in every region's server, and one
        // server standing for both would hold the lock against itself.
        await using var regionB = await TestPostgres.StartAsync();
        await using var stack = await RouterStack.StartAsync(configure: o => o.Admin.Servers["b"] = regionB.ConnectionString());
        using var bootstrap = Operator(stack, RouterStack.OperatorKey);
        var tenant = $"t{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(5))}";

        using var created = await bootstrap.PostAsJsonAsync("/admin/tenants", new { id = tenant, shards = new[] { new { home = "a", standby = (string?)null } } });
        using var abort = await bootstrap.DeleteAsync($"/admin/tenants/{tenant}/creation");
        using var read = await bootstrap.GetAsync($"/admin/audit?tenant={tenant}&since=1h&limit=10");

        Assert.True(created.StatusCode == HttpStatusCode.Created, await created.Content.ReadAsStringAsync());
        var apiKey = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("apiKey").GetString()!;
        // The tenant is finished, so there is no creation to undo: the abort is audited as failed, with why.
        Assert.Equal(HttpStatusCode.Conflict, abort.StatusCode);
        var entries = (await read.Content.ReadFromJsonAsync<JsonElement>()).EnumerateArray().ToList();
        Assert.Equal(["tenant.abort", "tenant.create"], entries.Select(e => e.GetProperty("action").GetString()));
        Assert.Equal(["failed", "ok"], entries.Select(e => e.GetProperty("result").GetString()));
        Assert.All(entries, e => Assert.Equal(("bootstrap", "127.0.0.1"), (e.GetProperty("operator").GetString(), e.GetProperty("source").GetString())));
        Assert.Contains("no unfinished creation", entries[0].GetProperty("reason").GetString(), StringComparison.Ordinal);
        Assert.Equal("a", entries[1].GetProperty("detail").GetProperty("shards")[0].GetProperty("home").GetString());
        await AssertNoSecretAsync(stack, RouterStack.OperatorKey, apiKey);
    }

    private static HttpClient Operator(RouterStack stack, string key)
    {
        var client = new HttpClient { BaseAddress = stack.Router.Url, Timeout = TimeSpan.FromSeconds(60) };
        client.DefaultRequestHeaders.Authorization = new("Bearer", key);
        return client;
    }

    private static async Task<string> AddKeyAsync(HttpClient client, string name)
    {
        using var response = await client.PostAsJsonAsync("/admin/operator-keys", new { name });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("key").GetString()!;
    }

    /// <summary>The audit log, oldest first, one line per entry: operator action tenant source result[: reason] detail.</summary>
    private static Task<List<string>> EntriesAsync(RouterStack stack) => Sql.QueryAsync<string>(stack.DirectoryConnectionString,
        "SELECT concat_ws(' ', operator, action, coalesce(tenant, '-'), source, result || coalesce(': ' || reason, ''), detail::text) FROM audit_log ORDER BY id");

    private static async Task AssertNoSecretAsync(RouterStack stack, params string[] secrets)
    {
        var rows = await Sql.QueryAsync<string>(stack.DirectoryConnectionString, "SELECT a::text FROM audit_log a");
        Assert.NotEmpty(rows);
        foreach (var secret in secrets)
        {
            Assert.DoesNotContain(rows, row => row.Contains(secret, StringComparison.Ordinal));
        }
    }
}

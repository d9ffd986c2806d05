using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Geo.Testing;

namespace Geo.Router.IntegrationTests;

/// <summary>
/// The operator console's sign-in, session and guards through the real router (its pages are tested in a browser by
/// the end-to-end tests): an operator key opens a session in an HttpOnly, SameSite=Strict cookie, a tenant's key does
/// not, a change needs the session's CSRF token, a revoked key ends its sessions, and each of these is audited.
/// </summary>
public sealed class ConsoleApiTests
{
    [Fact]
    public async Task SignIn_OperatorKey_SessionCookieOpensTheOverview()
    {
        await using var stack = await RouterStack.StartAsync();
        using var browser = Browser(stack);

        using var before = await browser.GetAsync("/console/api/overview");
        using var signIn = await browser.PostAsJsonAsync("/console/api/session", new { key = RouterStack.OperatorKey });
        using var overview = await browser.GetAsync("/console/api/overview");
        using var page = await browser.GetAsync("/console");
        using var script = await browser.GetAsync("/console/console.js");
        using var other = await browser.GetAsync("/console/appsettings.json");

        Assert.Equal(HttpStatusCode.Unauthorized, before.StatusCode);
        Assert.Equal(HttpStatusCode.OK, signIn.StatusCode);
        var cookie = Assert.Single(signIn.Headers.GetValues("Set-Cookie"));
        Assert.StartsWith("geo_console=", cookie, StringComparison.Ordinal);
        Assert.Contains("httponly", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("samesite=strict", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("path=/console", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.Equal("bootstrap", (await signIn.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("operator").GetString());
        Assert.Equal(HttpStatusCode.OK, overview.StatusCode);
        var body = await overview.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(["a", "b"], body.GetProperty("regions").EnumerateArray().Select(r => r.GetProperty("id").GetString()));
        Assert.Contains("acme@a", body.GetProperty("shards").EnumerateArray().Select(s => s.GetProperty("shard").GetString()));
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
        Assert.Contains("script-src 'self'", string.Join(' ', page.Headers.GetValues("Content-Security-Policy")), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, script.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, other.StatusCode);
        Assert.Equal(["bootstrap console.signin - 127.0.0.1 ok"], await EntriesAsync(stack));
    }

    [Fact]
    public async Task SignIn_TenantApiKeyOrNoKey_RefusedNoCookieAudited()
    {
        await using var stack = await RouterStack.StartAsync();
        using var browser = Browser(stack);

        using var tenantKey = await browser.PostAsJsonAsync("/console/api/session", new { key = RouterStack.AcmeKey });
        using var noKey = await browser.PostAsJsonAsync("/console/api/session", new { key = "" });
        using var overview = await browser.GetAsync("/console/api/overview");

        Assert.Equal(HttpStatusCode.Unauthorized, tenantKey.StatusCode);
        Assert.False(tenantKey.Headers.Contains("Set-Cookie"));
        Assert.Contains("tenant's API key", (await tenantKey.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Unauthorized, noKey.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, overview.StatusCode);
        Assert.Equal(["unknown console.signin - 127.0.0.1 refused: not an operator key", "unknown console.signin - 127.0.0.1 refused: no operator key"],
            await EntriesAsync(stack));
        var rows = await Sql.QueryAsync<string>(stack.DirectoryConnectionString, "SELECT a::text FROM audit_log a");
        Assert.All(rows, row => Assert.DoesNotContain(RouterStack.AcmeKey, row, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Switchover_WithoutOrWithAWrongCsrfToken_403AuditedAndNothingDone()
    {
        await using var stack = await RouterStack.StartAsync();
        using var browser = Browser(stack);
        using var signIn = await browser.PostAsJsonAsync("/console/api/session", new { key = RouterStack.OperatorKey });
        var csrf = (await signIn.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("csrf").GetString()!;
        var request = new { shard = "acme@a", to = "b", confirm = "acme@a" };

        using var without = await browser.PostAsJsonAsync("/console/api/switchover", request);
        using var wrong = await Send(browser, "/console/api/switchover", request, csrf[..^2] + "xx");
        using var unconfirmed = await Send(browser, "/console/api/switchover", request with { confirm = "acme" }, csrf);

        Assert.Equal(HttpStatusCode.Forbidden, without.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, wrong.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, unconfirmed.StatusCode);
        Assert.Equal(
            ["bootstrap console.signin - 127.0.0.1 ok", "bootstrap dr.switchover - 127.0.0.1 refused: missing or wrong CSRF token",
             "bootstrap dr.switchover - 127.0.0.1 refused: missing or wrong CSRF token", "bootstrap dr.switchover - 127.0.0.1 failed: give shard (tenant@home), to (the standby region) and confirm (the shard's name again)"],
            await EntriesAsync(stack));
        Assert.Equal("a", await Sql.ScalarAsync<string>(stack.DirectoryConnectionString, "SELECT owner_region FROM shards WHERE tenant_id = 'acme' AND home_region = 'a'"));
    }

    [Fact]
    public async Task Promote_UnknownShardOrNotToItsStandby_RefusedAndAudited()
    {
        await using var stack = await RouterStack.StartAsync();
        using var browser = Browser(stack);
        using var signIn = await browser.PostAsJsonAsync("/console/api/session", new { key = RouterStack.OperatorKey });
        var csrf = (await signIn.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("csrf").GetString()!;

        using var estimate = await browser.GetAsync("/console/api/promote-estimate?shard=nobody@a");
        using var toOwner = await Send(browser, "/console/api/promote", new { shard = "acme@a", to = "a", confirm = "acme@a" }, csrf);

        Assert.Equal(HttpStatusCode.NotFound, estimate.StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, toOwner.StatusCode);
        Assert.Equal(["bootstrap console.signin - 127.0.0.1 ok", "bootstrap dr.promote acme 127.0.0.1 failed: acme@a can move only to its standby (b)"], await EntriesAsync(stack));
        Assert.Equal("a", await Sql.ScalarAsync<string>(stack.DirectoryConnectionString, "SELECT owner_region FROM shards WHERE tenant_id = 'acme' AND home_region = 'a'"));
    }

    [Fact]
    public async Task NasConfig_UnknownNasOrFormatOrNoSession_RefusedWithTheReason()
    {
        await using var stack = await RouterStack.StartAsync();
        using var browser = Browser(stack);
        using var anonymous = await browser.GetAsync("/console/api/nas-config?tenant=acme&nas=x&format=mikrotik");
        using var signIn = await browser.PostAsJsonAsync("/console/api/session", new { key = RouterStack.OperatorKey });

        using var unknown = await browser.GetAsync("/console/api/nas-config?tenant=acme&nas=nobody&format=mikrotik");
        using var badFormat = await browser.GetAsync("/console/api/nas-config?tenant=acme&nas=nobody&format=telnet");

        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, badFormat.StatusCode);
        Assert.Contains("mikrotik, cisco, juniper or freeradius", (await badFormat.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Session_ItsNamedKeyRevoked_NextRequestRefused()
    {
        await using var stack = await RouterStack.StartAsync();
        using var admin = new HttpClient { BaseAddress = stack.Router.Url };
        admin.DefaultRequestHeaders.Authorization = new("Bearer", RouterStack.OperatorKey);
        using var added = await admin.PostAsJsonAsync("/admin/operator-keys", new { name = "dave" });
        var dave = (await added.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("key").GetString()!;
        using var browser = Browser(stack);
        using var signIn = await browser.PostAsJsonAsync("/console/api/session", new { key = dave });
        using var before = await browser.GetAsync("/console/api/overview");

        using var revoked = await admin.DeleteAsync("/admin/operator-keys/dave");
        using var after = await browser.GetAsync("/console/api/overview");
        using var signInAgain = await browser.PostAsJsonAsync("/console/api/session", new { key = dave });

        Assert.Equal(HttpStatusCode.OK, before.StatusCode);
        Assert.Equal(HttpStatusCode.OK, revoked.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, after.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, signInAgain.StatusCode);
    }

    /// <summary>An HTTP client that keeps cookies, as a browser does.</summary>
    private static HttpClient Browser(RouterStack stack) =>
        new(new HttpClientHandler { CookieContainer = new CookieContainer() }) { BaseAddress = stack.Router.Url };

    private static async Task<HttpResponseMessage> Send<T>(HttpClient client, string path, T body, string csrf)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = JsonContent.Create(body) };
        request.Headers.Add("X-CSRF-Token", csrf);
        return await client.SendAsync(request);
    }

    private static Task<List<string>> EntriesAsync(RouterStack stack) => Sql.QueryAsync<string>(stack.DirectoryConnectionString,
        "SELECT concat_ws(' ', operator, action, coalesce(tenant, '-'), source, result || coalesce(': ' || reason, '')) FROM audit_log ORDER BY id");
}

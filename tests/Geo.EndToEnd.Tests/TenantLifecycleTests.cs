using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using Geo.Engines.Postgres;
using Geo.Testing;
using Npgsql;

namespace Geo.EndToEnd.Tests;

/// <summary>
/// The tenant and NAS lifecycle on the local stack, through geoctl's own commands: onboard a tenant, add a NAS,
/// serve a subscriber, rotate the NAS secret, interrupt and resume or abort a creation, retire a shard.
/// </summary>
public sealed class TenantLifecycleTests(TwoRegions stack) : IClassFixture<TwoRegions>
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task NewTenant_NasAndSubscriberThroughRouter_AuthenticatesWithRadclientAndReplicatesToB()
    {
        var tenant = "nova";
        var (code, log) = await GeoctlAsync("tenant", "create", tenant, "--home", "a", "--standby-of", "a=b");
        Assert.True(code == 0, log);
        var secretFile = await SecretFileAsync("nova-secret-0001");
        (code, log) = await GeoctlAsync("nas", "add", "--tenant", tenant, "--id", "nova-bng-1", "--address", "127.0.31.1", "--secret-file", secretFile,
            "--vendor", "mikrotik", "--primary", "a", "--backup", "b");
        Assert.True(code == 0, log);

        using var api = stack.Api(tenant);
        using var region = await ServedAsync(tenant, "a");
        using (var created = await api.PostAsJsonAsync($"/tenants/{tenant}/subscribers", new { username = "nova-user-1", password = "pw-nova-123", planId = "basic" }))
        {
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
            Assert.Equal("a", created.Headers.GetValues("Geo-Region").Single());
        }

        var accept = await AuthUntilAsync(stack.RadiusAuth("a"), "nova-user-1", "pw-nova-123", "127.0.31.1", "nova-secret-0001", accepted: true);
        Assert.Contains("Received Access-Accept", accept, StringComparison.Ordinal);
        await WaitForAsync(async () => await CountAsync(stack.ShardConnectionString(tenant, "a", cluster: "b"), "SELECT count(*) FROM subscribers WHERE username = 'nova-user-1'") == 1,
            "the subscriber's row in b's replica of geo_nova_a");

        (code, log) = await GeoctlAsync("tenant", "show", tenant);
        Assert.True(code == 0, log);
        Assert.Matches(@"nova@a\s+active\s+a\s+b\s+1\s+1\s+slot geo_nova_a_to_b streaming", log);
    }

    [Fact]
    public async Task NasSecretRotation_OldAndNewAcceptedDuringOverlap_OnlyNewAfterFinish()
    {
        var tenant = "rota";
        Assert.Equal(0, (await GeoctlAsync("tenant", "create", tenant, "--home", "a", "--standby-of", "a=none")).Code);
        Assert.Equal(0, (await GeoctlAsync("nas", "add", "--tenant", tenant, "--id", "rota-bng", "--address", "127.0.31.2",
            "--secret-file", await SecretFileAsync("rota-old-secret"), "--primary", "a")).Code);
        using var api = stack.Api(tenant);
        using var region = await ServedAsync(tenant, "a");
        await CreatedAsync(await api.PostAsJsonAsync($"/tenants/{tenant}/subscribers", new { username = "rota-user", password = "pw-rota-123", planId = "basic" }));
        await AuthUntilAsync(stack.RadiusAuth("a"), "rota-user", "pw-rota-123", "127.0.31.2", "rota-old-secret", accepted: true);

        var (code, log) = await GeoctlAsync("nas", "rotate-secret", "--tenant", tenant, "--id", "rota-bng", "--secret-file", await SecretFileAsync("rota-new-secret"), "--overlap", "1h");
        Assert.True(code == 0, log);
        await AuthUntilAsync(stack.RadiusAuth("a"), "rota-user", "pw-rota-123", "127.0.31.2", "rota-new-secret", accepted: true);
        var old = await AuthAsync(stack.RadiusAuth("a"), "rota-user", "pw-rota-123", "127.0.31.2", "rota-old-secret");
        Assert.Contains("Received Access-Accept", old, StringComparison.Ordinal);

        // A second rotation inside the overlap would drop the secret a NAS not yet re-keyed still uses: refused.
        (code, log) = await GeoctlAsync("nas", "rotate-secret", "--tenant", tenant, "--id", "rota-bng", "--secret-file", await SecretFileAsync("rota-third-secret"));
        Assert.Equal(1, code);
        Assert.Contains("inside the overlap", log, StringComparison.Ordinal);

        (code, log) = await GeoctlAsync("nas", "rotate-secret", "--tenant", tenant, "--id", "rota-bng", "--finish");
        Assert.True(code == 0, log);
        // A request signed with the old secret is dropped (no answer), as any request with a wrong secret.
        await AuthUntilAsync(stack.RadiusAuth("a"), "rota-user", "pw-rota-123", "127.0.31.2", "rota-old-secret", accepted: false);
        Assert.Contains("Received Access-Accept", await AuthAsync(stack.RadiusAuth("a"), "rota-user", "pw-rota-123", "127.0.31.2", "rota-new-secret"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task TenantCreate_KilledAtSeveralPoints_RerunCompletesWithExactlyOneOfEverything()
    {
        var tenant = "kilo";
        var arguments = new[] { "tenant", "create", tenant, "--home", "a", "--standby-of", "a=b" };
        // With b's replicator stopped the command cannot get past the wait for replication (step 5): each run is
        // killed when it announces its k-th step — the shard row, the database, the migrations, that wait — and is
        // still running then, whatever the machine's load.
        await stack.StopReplicatorAsync("b");
        foreach (var step in new[] { 2, 3, 4, 5 })
        {
            var (killed, output) = await GeoctlKilledAtStepAsync(step, arguments);
            Assert.True(killed, $"geoctl finished before step {step} was announced:\n{output}");
        }

        await stack.UpAsync();
        var (code, log) = await GeoctlAsync(arguments);
        Assert.True(code == 0, log);

        var directory = stack.DirectoryConnectionString;
        Assert.Equal(1, await CountAsync(directory, "SELECT count(*) FROM tenants WHERE id = 'kilo' AND api_key_hash IS NOT NULL"));
        Assert.Equal(1, await CountAsync(directory, "SELECT count(*) FROM shards WHERE tenant_id = 'kilo' AND state = 'active' AND epoch = 1"));
        Assert.Equal(1, await CountAsync(Server("a"), "SELECT count(*) FROM pg_database WHERE datname = 'geo_kilo_a'"));
        Assert.Equal(1, await CountAsync(Server("b"), "SELECT count(*) FROM pg_database WHERE datname = 'geo_kilo_a'"));
        Assert.Equal(1, await CountAsync(Server("a"), "SELECT count(*) FROM pg_replication_slots WHERE database = 'geo_kilo_a'"));
        Assert.Equal(1, await CountAsync(stack.ShardConnectionString(tenant, "a"), "SELECT count(*) FROM shard_fence WHERE epoch = 1"));
        Assert.Equal(1, await CountAsync(stack.ShardConnectionString(tenant, "a"), "SELECT count(*) FROM pg_publication"));
        // The key kept for the operator is the one whose hash the directory holds.
        using var api = await ServedAsync(tenant, "a");
    }

    [Fact]
    public async Task TenantCreate_KilledWhileWaitingForReplicationThenAborted_LeavesNoSlotDatabaseOrEntry()
    {
        var tenant = "abby";
        await stack.StopReplicatorAsync("b");
        // While the creation runs, a second lifecycle command on the tenant is refused, not raced.
        var (killed, output) = await GeoctlAtStepAsync(6, ["tenant", "create", tenant, "--home", "a", "--standby-of", "a=b"], async (_, _) =>
        {
            var (refused, why) = await GeoctlAsync("tenant", "create", tenant, "--abort");
            Assert.Equal(1, refused);
            Assert.Contains("another lifecycle command for tenant abby is running", why, StringComparison.Ordinal);
        });
        Assert.True(killed, output);

        // b's replicator comes back and, following the directory, starts streaming the half-created shard: the abort
        // must take the slot and the replica away too.
        await stack.UpAsync();
        await WaitForAsync(async () => await CountAsync(Server("a"), "SELECT count(*) FROM pg_replication_slots WHERE database = 'geo_abby_a' AND active") == 1,
            "b's replicator to stream the unfinished shard");

        var (code, log) = await GeoctlAsync("tenant", "create", tenant, "--abort");
        Assert.True(code == 0, log);

        await AssertNothingLeftAsync(tenant, "a");
        Assert.Equal(0, await CountAsync(stack.DirectoryConnectionString, "SELECT count(*) FROM tenants WHERE id = 'abby'"));
        Assert.False(File.Exists(stack.Layout.ApiKeyFile(tenant)));
    }

    [Fact]
    public async Task RetireShard_WithSubscribers_RefusedUnlessForced_ThenNoSlotOrDatabaseLeft()
    {
        var tenant = "tera";
        Assert.Equal(0, (await GeoctlAsync("tenant", "create", tenant, "--home", "a", "--standby-of", "a=b")).Code);
        using var api = stack.Api(tenant);
        using var region = await ServedAsync(tenant, "a");
        await CreatedAsync(await api.PostAsJsonAsync($"/tenants/{tenant}/subscribers", new { username = "tera-user", password = "pw-tera-123", planId = "basic" }));

        var (refused, why) = await GeoctlAsync("tenant", "retire-shard", tenant, "a");
        Assert.Equal(1, refused);
        Assert.Contains("1 subscribers", why, StringComparison.Ordinal);
        Assert.Equal(1, await CountAsync(Server("a"), "SELECT count(*) FROM pg_database WHERE datname = 'geo_tera_a'"));

        var archive = TestFolders.Create("archive");
        try
        {
            var (code, log) = await GeoctlAsync("tenant", "retire-shard", tenant, "a", "--force", "--archive", archive);
            Assert.True(code == 0, log);

            await AssertNothingLeftAsync(tenant, "a");
            Assert.Single(System.IO.Directory.GetFiles(archive, "geo_tera_a-a-*.dump"));
            Assert.Equal(0, await CountAsync(stack.DirectoryConnectionString, "SELECT count(*) FROM subscriber_placements WHERE tenant_id = 'tera'"));
        }
        finally
        {
            System.IO.Directory.Delete(archive, recursive: true);
        }
    }

    [Fact]
    public async Task AddRegion_NewShardInB_ServesWithTheTenantsNas_AndRemovedNasIsNoLongerAnswered()
    {
        var tenant = "duo";
        Assert.Equal(0, (await GeoctlAsync("tenant", "create", tenant, "--home", "a", "--standby-of", "a=b")).Code);
        Assert.Equal(0, (await GeoctlAsync("nas", "add", "--tenant", tenant, "--id", "duo-bng", "--address", "127.0.31.3",
            "--secret-file", await SecretFileAsync("duo-secret-01"), "--primary", "b", "--backup", "a")).Code);

        var (code, log) = await GeoctlAsync("tenant", "add-region", tenant, "b", "--standby", "a");
        Assert.True(code == 0, log);
        Assert.Contains("1 NAS from duo@a", log, StringComparison.Ordinal);
        using var region = await ServedAsync(tenant, "b");
        using var api = stack.Api(tenant);
        await CreatedAsync(await api.PostAsJsonAsync($"/tenants/{tenant}/subscribers", new { username = "duo-user", password = "pw-duo-1234", planId = "basic", region = "b" }));
        await AuthUntilAsync(stack.RadiusAuth("b"), "duo-user", "pw-duo-1234", "127.0.31.3", "duo-secret-01", accepted: true);
        await WaitForAsync(async () => await CountAsync(stack.ShardConnectionString(tenant, "b", cluster: "a"), "SELECT count(*) FROM subscribers WHERE username = 'duo-user'") == 1,
            "the subscriber's row in a's replica of geo_duo_b");

        (code, log) = await GeoctlAsync("nas", "list", "--tenant", tenant);
        Assert.True(code == 0, log);
        Assert.Matches(@"duo\s+duo-bng\s+127\.0\.31\.3\s+b\s+a\s+generic\s+3799", log);

        (code, log) = await GeoctlAsync("nas", "remove", "--tenant", tenant, "--id", "duo-bng");
        Assert.True(code == 0, log);
        await AuthUntilAsync(stack.RadiusAuth("b"), "duo-user", "pw-duo-1234", "127.0.31.3", "duo-secret-01", accepted: false);
        Assert.Equal(0, await CountAsync(stack.DirectoryConnectionString, "SELECT count(*) FROM nas_devices WHERE tenant_id = 'duo'"));
    }

    [Fact]
    public async Task AdminApi_CreateTenantWithOperatorKey_IssuesWorkingApiKey_RefusedWithoutKey()
    {
        using var anonymous = new HttpClient { BaseAddress = stack.Router, Timeout = TimeSpan.FromSeconds(150) };
        var body = new { id = "omni", shards = new[] { new { home = "b", standby = "a" } } };
        using (var refused = await anonymous.PostAsJsonAsync("/admin/tenants", body))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        }

        using var admin = new HttpClient { BaseAddress = stack.Router, Timeout = TimeSpan.FromSeconds(150) };
        admin.DefaultRequestHeaders.Authorization = new("Bearer", (await File.ReadAllTextAsync(stack.Layout.OperatorKeyFile)).Trim());
        using var created = await admin.PostAsJsonAsync("/admin/tenants", body);
        var answer = await created.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>();
        Assert.True(created.StatusCode == HttpStatusCode.Created, answer.ToString());
        var key = answer.GetProperty("apiKey").GetString()!;
        Assert.Equal("active", answer.GetProperty("shards")[0].GetProperty("state").GetString());

        using var again = await admin.PostAsJsonAsync("/admin/tenants", body);
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        using var tenantApi = new HttpClient { BaseAddress = stack.Router };
        tenantApi.DefaultRequestHeaders.Authorization = new("Bearer", key);
        await WaitForAsync(async () =>
        {
            using var plans = await tenantApi.GetAsync("/tenants/omni/subscribers?limit=1");
            return plans.StatusCode == HttpStatusCode.OK;
        }, "the new tenant's API key to be accepted in region b");
        using var show = await admin.GetAsync("/admin/tenants/omni");
        Assert.Contains("\"streaming\":true", await show.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    private async Task AssertNothingLeftAsync(string tenant, string home)
    {
        var database = $"geo_{tenant}_{home}";
        Assert.Equal(0, await CountAsync(stack.DirectoryConnectionString, $"SELECT count(*) FROM shards WHERE tenant_id = '{tenant}'"));
        foreach (var region in new[] { "a", "b" })
        {
            Assert.Equal(0, await CountAsync(Server(region), $"SELECT count(*) FROM pg_database WHERE datname = '{database}'"));
            Assert.Equal(0, await CountAsync(Server(region), $"SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE '%{database}%'"));
        }
    }

    /// <summary>
    /// Waits until the region node serves the tenant (it loads a new shard when the directory notifies it) by writing
    /// the tenant's plan there until the node accepts it; returns a client of the node.
    /// </summary>
    private async Task<HttpClient> ServedAsync(string tenant, string region)
    {
        var client = stack.RegionApi(tenant, region);
        await WaitForAsync(async () =>
        {
            using var plan = await client.PutAsJsonAsync($"/tenants/{tenant}/plans/basic", new { displayName = "Basic", downloadKbps = 10_000, uploadKbps = 2_000 });
            return plan.StatusCode == HttpStatusCode.OK;
        }, $"region {region} to serve tenant {tenant}");
        return client;
    }

    private static async Task CreatedAsync(HttpResponseMessage response)
    {
        using (response)
        {
            Assert.True(response.StatusCode == HttpStatusCode.Created, $"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        }
    }

    private string Server(string region) => PostgresCluster.Open(stack.Layout.RegionPostgres(region))!.ConnectionString();

    private static async Task<long> CountAsync(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return Convert.ToInt64(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>A NAS secret in a file of the stack's test folder (removed with it).</summary>
    private async Task<string> SecretFileAsync(string secret)
    {
        var file = Path.Combine(Path.GetDirectoryName(stack.StateDir)!, $"nas-{Guid.NewGuid():N}.secret");
        await File.WriteAllTextAsync(file, secret);
        return file;
    }

    private Task<(int Code, string Output)> GeoctlAsync(params string[] arguments) => stack.GeoctlAsync(arguments);

    /// <summary>Runs geoctl as its own process and SIGKILLs it the moment it announces its <paramref name="step"/>-th step.</summary>
    private Task<(bool Killed, string Output)> GeoctlKilledAtStepAsync(int step, params string[] arguments) =>
        GeoctlAtStepAsync(step, arguments, (_, _) => Task.CompletedTask);

    private Task<(bool Killed, string Output)> GeoctlAtStepAsync(int step, string[] arguments, Func<Process, string, Task> meanwhile)
    {
        var steps = 0;
        return stack.GeoctlUntilAsync(line => line.StartsWith("  ... ", StringComparison.Ordinal) && ++steps == step, arguments, meanwhile, Deadline);
    }

    private static async Task<string> AuthAsync(IPEndPoint server, string user, string password, string nas, string secret) =>
        (await Radclient.SendAsync(server, "auth", secret,
            $"User-Name = \"{user}\"\nUser-Password = \"{password}\"\nMessage-Authenticator = 0x00\nPacket-Src-IP-Address = {nas}", timeoutSeconds: 1)).Output;

    /// <summary>Sends until the answer is (or is not) an Access-Accept: the node applies a NAS change when the directory notifies it.</summary>
    private static Task<string> AuthUntilAsync(IPEndPoint server, string user, string password, string nas, string secret, bool accepted) =>
        Eventually.ValueAsync(() => AuthAsync(server, user, password, nas, secret),
            output => output.Contains("Received Access-Accept", StringComparison.Ordinal) == accepted, Deadline,
            $"{user} via {nas} gets {(accepted ? "an Access-Accept" : "a refusal")}");

    private static Task WaitForAsync(Func<Task<bool>> condition, string what) =>
        Eventually.TrueAsync(condition, Deadline, what, TimeSpan.FromMilliseconds(100));
}

using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Geo.Testing;

namespace Geo.EndToEnd.Tests;

/// <summary>geo-router in front of two geo-region processes: each call reaches the region that owns the subscriber.</summary>
public sealed class RouterEndToEndTests(TwoRegions stack) : IClassFixture<TwoRegions>
{
    [Fact]
    public async Task ApiCall_SubscriberOfEachRegion_AnsweredByThatRegion()
    {
        using var api = stack.Api("acme");

        using var a = await api.GetAsync("/tenants/acme/subscribers/acme-a-000001");
        using var b = await api.GetAsync("/tenants/acme/subscribers/acme-b-000001");

        Assert.Equal(HttpStatusCode.OK, a.StatusCode);
        Assert.Equal("a", a.Headers.GetValues("Geo-Region").Single());
        Assert.Equal(HttpStatusCode.OK, b.StatusCode);
        Assert.Equal("b", b.Headers.GetValues("Geo-Region").Single());
        Assert.Equal("acme-b-000001", (await b.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("username").GetString());
    }

    [Fact]
    public async Task ApiCreate_WithRegionB_PlacedAndCreatedInB()
    {
        using var api = stack.Api("zenith");
        var username = $"new-{Guid.NewGuid():N}"[..16];

        using var created = await api.PostAsJsonAsync("/tenants/zenith/subscribers", new { username, password = "pw-123456", planId = "home-50", region = "b" });

        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        Assert.Equal("b", created.Headers.GetValues("Geo-Region").Single());
        Assert.Equal(1L, await Sql.ScalarAsync<long>(stack.ShardConnectionString("zenith", "b"), "SELECT count(*) FROM subscribers WHERE username = $1", username));
    }

    [Fact]
    public async Task Radclient_ToRegionB_ForSubscriberHomedInA_AnsweredByAAndAccountedInA()
    {
        var (user, password) = stack.Subscriber("acme", "a", 3);
        var secret = stack.NasSecret("acme-bng-a");

        var (_, login) = await Radclient.SendAsync(stack.RadiusAuth("b"), "auth", secret,
            $"User-Name = \"{user}\"\nUser-Password = \"{password}\"\nMessage-Authenticator = 0x00\nPacket-Src-IP-Address = 127.0.10.1");
        var session = $"e2e-{Guid.NewGuid():N}";
        var (_, accounting) = await Radclient.SendAsync(stack.RadiusAcct("b"), "acct", secret,
            $"User-Name = \"{user}\"\nAcct-Status-Type = Start\nAcct-Session-Id = \"{session}\"\nPacket-Src-IP-Address = 127.0.10.1");

        Assert.Contains("Received Access-Accept", login, StringComparison.Ordinal);
        // geo:acme:a: — the Class that region a puts in its accepts.
        Assert.Contains("Class = 0x67656f3a61636d653a613a", login, StringComparison.Ordinal);
        Assert.Contains("Received Accounting-Response", accounting, StringComparison.Ordinal);
        Assert.Equal(1L, await Sql.ScalarAsync<long>(stack.ShardConnectionString("acme", "a"), "SELECT count(*) FROM sessions WHERE acct_session_id = $1", session));
    }

    [Fact]
    public async Task EpochFlip_ShardMovesToB_NewOwnerAnswers()
    {
        // Region b's replica of zenith@a, kept current by the local stack's replicator, stands in for a promoted
        // one: its fence is raised the way a promotion raises it (the DR runbook does the whole of it).
        var (user, _) = stack.Subscriber("zenith", "a", 2);
        var replica = stack.ShardConnectionString("zenith", "a", cluster: "b");
        await Eventually.TrueAsync(async () => await Sql.ScalarAsync<long>(replica, "SELECT count(*) FROM subscribers WHERE username = $1", user) > 0,
            TimeSpan.FromSeconds(30), $"region b's replica of zenith@a has {user}");

        var promoter = new Npgsql.NpgsqlConnectionStringBuilder(replica) { Options = "-c default_transaction_read_only=off" }.ConnectionString;
        await Sql.ScalarAsync<object>(promoter, "UPDATE shard_fence SET owner_region = 'b', epoch = 2");
        using var api = stack.Api("zenith");
        Assert.Equal("a", (await api.GetAsync($"/tenants/zenith/subscribers/{user}")).Headers.GetValues("Geo-Region").Single());

        await Sql.ScalarAsync<object>(stack.DirectoryConnectionString,
            "UPDATE shards SET owner_region = 'b', standby_region = 'a', epoch = 2 WHERE tenant_id = 'zenith' AND home_region = 'a'");
        // Generous: the router reloads only when the directory notifies it, so any answer from b proves the notification;
        // how fast it follows is a benchmark's question, not a loaded 2-core test machine's.
        var answer = await Eventually.ValueAsync(async () =>
        {
            using var response = await api.GetAsync($"/tenants/zenith/subscribers/{user}");
            return (response.StatusCode, Region: Header(response, "Geo-Region"), Epoch: Header(response, "Geo-Epoch"));
        }, a => a.StatusCode == HttpStatusCode.OK && a.Region == "b", TimeSpan.FromSeconds(10), $"the router sends {user}'s requests to region b");

        Assert.Equal("2", answer.Epoch);
    }

    private static string? Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? values.Single() : null;
}

using System.Net;
using System.Security.Cryptography;
using System.Text;
using Geo.Radius;
using Geo.Radius.Dictionary;
using Npgsql;

namespace Geo.RegionNode.IntegrationTests;

/// <summary>The auth-profile cache in front of PostgreSQL, with real UDP requests.</summary>
[Collection(RegionFixtureGroup.Name)]
public sealed class ProfileCacheTests(RegionFixture stack)
{
    private const string DatabaseReads = "geo_profile_lookups_total{source=\"database\"}";
    private const string SharedReads = "geo_profile_lookups_total{source=\"shared_database_read\"}";

    [Fact]
    public async Task ConcurrentRequestsForOneUncachedSubscriber_ReadItsProfileFromPostgresOnce()
    {
        var (user, password) = stack.Subscriber(40);
        await NodeProbe.InvalidateProfileAsync(stack.Node, "geo_acme_a", user);
        var reads = await NodeProbe.MetricAsync(stack.Node, DatabaseReads);
        var shared = await NodeProbe.MetricAsync(stack.Node, SharedReads);

        // The first read waits behind a lock on subscribers, so the other requests arrive while it runs.
        await using var blocker = new NpgsqlConnection(stack.ShardConnectionString);
        await blocker.OpenAsync();
        await using var transaction = await blocker.BeginTransactionAsync();
        await using (var hold = new NpgsqlCommand("LOCK TABLE subscribers IN ACCESS EXCLUSIVE MODE", blocker, transaction))
        {
            await hold.ExecuteNonQueryAsync();
        }

        const int Requests = 5;
        var secret = Encoding.UTF8.GetBytes(stack.NasSecret);
        var peers = Enumerable.Range(0, Requests).Select(_ => new NodeProbe.Peer(IPAddress.Parse(RegionFixture.NasAddress))).ToArray();
        try
        {
            var answers = peers.Select((peer, i) => peer.ExchangeAsync(AccessRequest((byte)i, user, password, secret), stack.Auth, TimeSpan.FromSeconds(30))).ToArray();
            await NodeProbe.WaitUntilAsync(async () => await NodeProbe.MetricAsync(stack.Node, SharedReads) >= shared + Requests - 1,
                "the other requests wait for the first one's read");
            await transaction.CommitAsync();

            foreach (var answer in await Task.WhenAll(answers))
            {
                Assert.NotNull(answer);
                Assert.Equal((byte)RadiusCode.AccessAccept, answer[0]);
            }

            Assert.Equal(reads + 1, await NodeProbe.MetricAsync(stack.Node, DatabaseReads));
            Assert.Equal(shared + Requests - 1, await NodeProbe.MetricAsync(stack.Node, SharedReads));
        }
        finally
        {
            foreach (var peer in peers)
            {
                peer.Dispose();
            }
        }
    }

    [Fact]
    public async Task ColdLoginOfASubscriberHomedHere_ReadsItsShardOnly_NotTheDirectory()
    {
        // A subscriber no other test logs in: neither its profile nor its home region is remembered by the node.
        var (user, password) = stack.Subscriber(77);
        await NodeProbe.InvalidateProfileAsync(stack.Node, "geo_acme_a", user);
        var reads = await NodeProbe.MetricAsync(stack.Node, DatabaseReads);
        var directoryReads = await NodeProbe.MetricAsync(stack.Node, "geo_placement_read_batch_size_count");

        using var peer = new NodeProbe.Peer(IPAddress.Parse(RegionFixture.NasAddress));
        var answer = await peer.ExchangeAsync(AccessRequest(1, user, password, Encoding.UTF8.GetBytes(stack.NasSecret)), stack.Auth, TimeSpan.FromSeconds(10));

        Assert.NotNull(answer);
        Assert.Equal((byte)RadiusCode.AccessAccept, answer[0]);
        Assert.Equal(reads + 1, await NodeProbe.MetricAsync(stack.Node, DatabaseReads));
        Assert.Equal(directoryReads, await NodeProbe.MetricAsync(stack.Node, "geo_placement_read_batch_size_count"));
    }

    [Fact]
    public async Task UsernameWithANul_RejectedAndCounted_WithoutAnyLookup()
    {
        const string Rejected = "geo_auth_rejects_total{reason=\"bad_username\"}";
        var before = await NodeProbe.MetricAsync(stack.Node, Rejected);
        var profileBatches = await NodeProbe.MetricAsync(stack.Node, "geo_profile_read_batch_size_count");

        using var peer = new NodeProbe.Peer(IPAddress.Parse(RegionFixture.NasAddress));
        var answer = await peer.ExchangeAsync(AccessRequest(2, "acme\0user", "secret", Encoding.UTF8.GetBytes(stack.NasSecret)), stack.Auth, TimeSpan.FromSeconds(10));

        Assert.NotNull(answer);
        Assert.Equal((byte)RadiusCode.AccessReject, answer[0]);
        Assert.Equal(before + 1, await NodeProbe.MetricAsync(stack.Node, Rejected));
        Assert.Equal(profileBatches, await NodeProbe.MetricAsync(stack.Node, "geo_profile_read_batch_size_count"));
    }

    private static byte[] AccessRequest(byte identifier, string user, string password, byte[] secret)
    {
        var buffer = new byte[4096];
        var writer = new RadiusPacketWriter(buffer, RadiusCode.AccessRequest, identifier, RandomNumberGenerator.GetBytes(16));
        writer.AddString(RadiusAttributeType.UserName, user);
        writer.AddUserPassword(Encoding.UTF8.GetBytes(password), secret);
        writer.AddMessageAuthenticator();
        return buffer.AsSpan(0, writer.FinishRequest(secret)).ToArray();
    }
}

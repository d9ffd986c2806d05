using System.Net;
using Geo.Replication.Hosting;
using Geo.Replication.PgOutput;
using Geo.Replication.Verification;
using Geo.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace Geo.Replication.IntegrationTests;

[Collection(TwoClustersGroup.Name)]
public sealed class ReplicatorServerTests(TwoClusters clusters)
{
    [Fact]
    public async Task Server_StreamingShard_ServesMetricsAndReadiness()
    {
        var shard = await clusters.CreateShardAsync(createReplica: true);
        await using var server = ReplicatorServer.Create([], configuration => configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Replication:Region"] = "b",
            ["urls"] = "http://127.0.0.1:0",
            ["Management:Url"] = "http://127.0.0.1:0",
            ["Replication:LagWarningSeconds"] = "3",
            ["Replication:Shards:0:Name"] = "acme@a",
            ["Replication:Shards:0:SourceConnectionString"] = shard.Source,
            ["Replication:Shards:0:ReplicaConnectionString"] = shard.Replica,
        }));
        await server.StartAsync();
        try
        {
            // Streaming first: a change made before the slot exists arrives through the initial copy, not as a transaction.
            await Task.WhenAll(server.Runtime.Shards.Select(s => WaitStreamingAsync(s)));
            await TwoClusters.ExecuteAsync(shard.Source, "INSERT INTO plans (id, display_name) VALUES ('basic', 'Basic')");
            Assert.True(await ReplicationBarrier.WaitForReplicaAsync(shard.Source, shard.Replica, TimeSpan.FromSeconds(60)));
            using var http = new HttpClient { BaseAddress = server.HttpAddress };
            using var management = new HttpClient { BaseAddress = server.ManagementAddress };

            var ready = await http.GetAsync(new Uri("/health/ready", UriKind.Relative));
            var live = await http.GetAsync(new Uri("/health/live", UriKind.Relative));
            using var metricsOnMain = await http.GetAsync(new Uri("/metrics", UriKind.Relative));
            // The counters move right after the replica commit the barrier saw.
            var metrics = await Eventually.ValueAsync(() => management.GetStringAsync(new Uri("/metrics", UriKind.Relative)),
                text => !text.Contains("geo_replication_applied_transactions_total{shard=\"acme@a\"} 0\n", StringComparison.Ordinal), TimeSpan.FromSeconds(30),
                "the applied-transactions counter of acme@a moves");

            Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
            Assert.Equal(HttpStatusCode.OK, live.StatusCode);
            Assert.Equal(HttpStatusCode.NotFound, metricsOnMain.StatusCode);
            Assert.Contains("geo_replication_lag_seconds{shard=\"acme@a\"} 0\n", metrics, StringComparison.Ordinal);
            Assert.Contains("geo_replication_streaming{shard=\"acme@a\"} 1\n", metrics, StringComparison.Ordinal);
            Assert.Contains("geo_replication_lag_warning_threshold_seconds 3\n", metrics, StringComparison.Ordinal);
            Assert.Matches("geo_replication_applied_transactions_total\\{shard=\"acme@a\"\\} [1-9]", metrics);
        }
        finally
        {
            await server.StopAsync();
            await ReplicationSlots.DropAsync(shard.Source, ReplicationSlots.DefaultSlotName(shard.Database, "b"), ReplicationSlots.DefaultPublication);
        }
    }

    private static Task WaitStreamingAsync(ShardReplicator shard) =>
        Eventually.TrueAsync(() => shard.Status.State == ShardState.Streaming, TimeSpan.FromSeconds(60), $"{shard.SlotName} streams", context: () => $"status: {shard.Status}");

    [Fact]
    public async Task Server_ShardWithoutConnectionStrings_RefusesToStart()
    {
        await using var server = ReplicatorServer.Create([], configuration => configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Replication:Region"] = "b",
            ["urls"] = "http://127.0.0.1:0",
            ["Management:Url"] = "http://127.0.0.1:0",
            ["Replication:Shards:0:Name"] = "acme@a",
        }));

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => server.StartAsync());

        Assert.Contains("ReplicaConnectionString", error.Message, StringComparison.Ordinal);
    }
}

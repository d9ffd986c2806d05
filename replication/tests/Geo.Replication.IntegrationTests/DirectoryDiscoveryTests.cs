using System.Net;
using Geo.Replication.Hosting;
using Geo.Replication.PgOutput;
using Geo.Schema;
using Geo.Schema.Migrations;
using Geo.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Geo.Replication.IntegrationTests;

/// <summary>
/// geo-replicator following the directory: the source cluster is region a, the standby cluster region b (this replicator's),
/// region c exists in the directory but has no server configured. The directory database lives on the standby cluster.
/// </summary>
[Collection(TwoClustersGroup.Name)]
public sealed class DirectoryDiscoveryTests(TwoClusters clusters)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    // Long enough that only a notification can explain a reaction within the test's deadlines.
    private const string NoPolling = "00:10:00";

    [Fact]
    public async Task Discovery_ShardProvisionedActivatedRetired_StreamsThenReleasesSlot()
    {
        var directory = await TestDirectory.CreateAsync(clusters);
        var tenant = clusters.NewTenantId();
        var shard = await clusters.CreateShardAsync(createReplica: false, tenantId: tenant);
        var name = tenant + "@a";
        var slot = ReplicationSlots.DefaultSlotName(shard.Database, "b");
        await TwoClusters.ExecuteAsync(shard.Source, "INSERT INTO plans (id, display_name) VALUES ('before', 'Before')");
        await directory.AddShardAsync(tenant, owner: "a", standby: "b", "provisioning", shard.Database);

        await using var server = ReplicatorServer.Create([], configuration => configuration.AddInMemoryCollection(Config(directory, NoPolling)));
        await server.StartAsync();
        try
        {
            // Provisioning: the replica is created, migrated and seeded from the source's snapshot, then streams.
            await WaitForPlanAsync(shard.Replica, "before");
            await WaitUntilAsync(() => State(server, name) == ShardState.Streaming, () => $"not streaming: {Describe(server)}");
            var replicator = server.Runtime.Shards.Single(s => s.Name == name);

            // Active: the same stream keeps going. The shard added after it proves the runtime has read the update.
            await directory.SetStateAsync(tenant, "active");
            var marker = clusters.NewTenantId();
            await directory.AddShardAsync(marker, owner: "c", standby: "b", "active", ShardDatabase.Name(marker, "a"));
            await WaitUntilAsync(() => State(server, marker + "@a") == ShardState.Failed, () => $"the marker shard did not appear: {Describe(server)}");
            Assert.Same(replicator, server.Runtime.Shards.Single(s => s.Name == name));
            Assert.Equal(ShardState.Streaming, replicator.Status.State);
            await TwoClusters.ExecuteAsync(shard.Source, "INSERT INTO plans (id, display_name) VALUES ('after', 'After')");
            await WaitForPlanAsync(shard.Replica, "after");
            Assert.True(await SlotActiveAsync(shard.Source, slot));

            // Retiring: the stream stops, lets go of the slot, and leaves the status and the metrics.
            await directory.SetStateAsync(tenant, "retiring");
            await WaitUntilAsync(() => State(server, name) is null, () => $"still listed: {Describe(server)}");
            // Unlisted at once; stopped in the background, without holding the discovery of other shards.
            await WaitUntilAsync(() => replicator.Status.State == ShardState.Stopped, () => $"the retired stream is {replicator.Status.State}");
            Assert.DoesNotContain(server.Runtime.Shards, s => s.Name == name);
            await WaitUntilAsync(async () => await SlotActiveAsync(shard.Source, slot) == false, () => "the slot is still active after the stream stopped");
            using var http = new HttpClient { BaseAddress = server.ManagementAddress };
            var metrics = await http.GetStringAsync(new Uri("/metrics", UriKind.Relative));
            Assert.DoesNotContain(name, metrics, StringComparison.Ordinal);
            Assert.Contains($"geo_replication_streaming{{shard=\"{marker}@a\"}} 0\n", metrics, StringComparison.Ordinal);
        }
        finally
        {
            await server.StopAsync();
            await ReplicationSlots.DropAsync(shard.Source, slot, ReplicationSlots.DefaultPublication);
        }
    }

    [Fact]
    public async Task Discovery_OwnerRegionWithoutServer_ReportsErrorWhileOtherShardStreams()
    {
        var directory = await TestDirectory.CreateAsync(clusters);
        var good = clusters.NewTenantId();
        var shard = await clusters.CreateShardAsync(createReplica: false, tenantId: good);
        var orphan = clusters.NewTenantId();
        await directory.AddShardAsync(good, owner: "a", standby: "b", "active", shard.Database);
        await directory.AddShardAsync(orphan, owner: "c", standby: "b", "active", ShardDatabase.Name(orphan, "a"));

        await using var server = ReplicatorServer.Create([], configuration => configuration.AddInMemoryCollection(Config(directory, NoPolling)));
        await server.StartAsync();
        try
        {
            await WaitUntilAsync(() => State(server, good + "@a") == ShardState.Streaming && State(server, orphan + "@a") == ShardState.Failed,
                () => $"expected one streaming and one failed shard: {Describe(server)}");
            await TwoClusters.ExecuteAsync(shard.Source, "INSERT INTO plans (id, display_name) VALUES ('basic', 'Basic')");
            await WaitForPlanAsync(shard.Replica, "basic");

            var failed = server.Runtime.Status.Single(s => s.Shard == orphan + "@a");
            Assert.Contains("no PostgreSQL server configured for region c", failed.LastError, StringComparison.Ordinal);
            Assert.DoesNotContain(server.Runtime.Shards, s => s.Name == orphan + "@a");
            using var http = new HttpClient { BaseAddress = server.HttpAddress };
            using var management = new HttpClient { BaseAddress = server.ManagementAddress };
            var ready = await http.GetAsync(new Uri("/health/ready", UriKind.Relative));
            var readyText = await ready.Content.ReadAsStringAsync();
            var metrics = await management.GetStringAsync(new Uri("/metrics", UriKind.Relative));
            Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
            Assert.Contains($"{orphan}@a: Failed no PostgreSQL server configured for region c", readyText, StringComparison.Ordinal);
            Assert.DoesNotContain(good, readyText, StringComparison.Ordinal);
            Assert.Contains($"geo_replication_streaming{{shard=\"{good}@a\"}} 1\n", metrics, StringComparison.Ordinal);
            Assert.Contains($"geo_replication_streaming{{shard=\"{orphan}@a\"}} 0\n", metrics, StringComparison.Ordinal);
        }
        finally
        {
            await server.StopAsync();
            await ReplicationSlots.DropAsync(shard.Source, ReplicationSlots.DefaultSlotName(shard.Database, "b"), ReplicationSlots.DefaultPublication);
        }
    }

    [Fact]
    public async Task Discovery_OwnerMoved_RestartsStreamAgainstNewOwner()
    {
        var directory = await TestDirectory.CreateAsync(clusters);
        var tenant = clusters.NewTenantId();
        var shard = await clusters.CreateShardAsync(createReplica: false, tenantId: tenant);
        var name = tenant + "@a";
        await directory.AddShardAsync(tenant, owner: "a", standby: "b", "active", shard.Database);
        // In this test region c's server is the source cluster too, so the stream can resume there from the same slot.
        var config = Config(directory, NoPolling);
        config["Replication:Directory:Servers:c"] = Server(clusters.Source);

        await using var server = ReplicatorServer.Create([], configuration => configuration.AddInMemoryCollection(config));
        await server.StartAsync();
        try
        {
            await WaitUntilAsync(() => State(server, name) == ShardState.Streaming, () => $"not streaming: {Describe(server)}");
            var before = server.Runtime.Shards.Single();

            await TwoClusters.ExecuteAsync(directory.ConnectionString,
                "UPDATE shards SET owner_region = 'c', epoch = epoch + 1, updated_at = now() WHERE tenant_id = @t", ("t", tenant));
            await WaitUntilAsync(() => server.Runtime.Shards.SingleOrDefault() is { } after && !ReferenceEquals(after, before) && after.Status.State == ShardState.Streaming,
                () => $"not restarted: {Describe(server)}");
            await TwoClusters.ExecuteAsync(shard.Source, "INSERT INTO plans (id, display_name) VALUES ('moved', 'After the move')");

            await WaitForPlanAsync(shard.Replica, "moved");
            Assert.Equal(ShardState.Stopped, before.Status.State);
            Assert.Single(server.Runtime.Status);
        }
        finally
        {
            await server.StopAsync();
            await ReplicationSlots.DropAsync(shard.Source, ReplicationSlots.DefaultSlotName(shard.Database, "b"), ReplicationSlots.DefaultPublication);
        }
    }

    [Fact]
    public async Task Discovery_NotificationsDisabled_PollingFindsNewShard()
    {
        var directory = await TestDirectory.CreateAsync(clusters);
        await TwoClusters.ExecuteAsync(directory.ConnectionString, "ALTER TABLE shards DISABLE TRIGGER shards_changed");
        var marker = clusters.NewTenantId();
        await directory.AddShardAsync(marker, owner: "c", standby: "b", "active", ShardDatabase.Name(marker, "a"));
        var tenant = clusters.NewTenantId();
        var shard = await clusters.CreateShardAsync(createReplica: false, tenantId: tenant);

        await using var server = ReplicatorServer.Create([], configuration => configuration.AddInMemoryCollection(Config(directory, "00:00:00.2")));
        await server.StartAsync();
        try
        {
            // The first read is done; from now on nothing is announced, so only polling can find the new shard.
            await WaitUntilAsync(() => State(server, marker + "@a") == ShardState.Failed, () => $"first read missing: {Describe(server)}");
            Assert.Empty(server.Runtime.Shards);
            await directory.AddShardAsync(tenant, owner: "a", standby: "b", "provisioning", shard.Database);
            await TwoClusters.ExecuteAsync(shard.Source, "INSERT INTO plans (id, display_name) VALUES ('polled', 'Polled')");

            await WaitForPlanAsync(shard.Replica, "polled");
            Assert.Equal(tenant + "@a", Assert.Single(server.Runtime.Shards).Name);
        }
        finally
        {
            await server.StopAsync();
            await ReplicationSlots.DropAsync(shard.Source, ReplicationSlots.DefaultSlotName(shard.Database, "b"), ReplicationSlots.DefaultPublication);
        }
    }

    [Fact]
    public async Task Discovery_NoShards_ReadyWithEmptyStatus()
    {
        var directory = await TestDirectory.CreateAsync(clusters);
        var elsewhere = clusters.NewTenantId();
        // A shard this region does not stand by for, and one that is not replicated (fenced).
        await directory.AddShardAsync(elsewhere, owner: "b", standby: "a", "active", ShardDatabase.Name(elsewhere, "b"), home: "b");
        var fenced = clusters.NewTenantId();
        await directory.AddShardAsync(fenced, owner: "a", standby: "b", "fenced", ShardDatabase.Name(fenced, "a"));

        await using var server = ReplicatorServer.Create([], configuration => configuration.AddInMemoryCollection(Config(directory, NoPolling)));
        await server.StartAsync();
        try
        {
            // A shard that appears after them proves they were read and left out.
            var marker = clusters.NewTenantId();
            await directory.AddShardAsync(marker, owner: "c", standby: "b", "active", ShardDatabase.Name(marker, "a"));
            await WaitUntilAsync(() => State(server, marker + "@a") == ShardState.Failed, () => $"marker missing: {Describe(server)}");
            Assert.Equal([marker + "@a"], server.Runtime.Status.Select(s => s.Shard));
            await TwoClusters.ExecuteAsync(directory.ConnectionString, "DELETE FROM shards WHERE tenant_id = @t", ("t", marker));
            await WaitUntilAsync(() => server.Runtime.Status.Count == 0, () => $"the deleted shard is still listed: {Describe(server)}");

            using var http = new HttpClient { BaseAddress = server.HttpAddress };
            var ready = await http.GetAsync(new Uri("/health/ready", UriKind.Relative));
            Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        }
        finally
        {
            await server.StopAsync();
        }
    }

    [Fact]
    public async Task Discovery_StaticShardOfSameName_StaticWins()
    {
        var directory = await TestDirectory.CreateAsync(clusters);
        var tenant = clusters.NewTenantId();
        var shard = await clusters.CreateShardAsync(createReplica: true, tenantId: tenant);
        var staticSlot = $"geo_static_{tenant}";
        await directory.AddShardAsync(tenant, owner: "a", standby: "b", "active", shard.Database);
        var config = Config(directory, NoPolling);
        config["Replication:Shards:0:Name"] = tenant + "@a";
        config["Replication:Shards:0:SourceConnectionString"] = shard.Source;
        config["Replication:Shards:0:ReplicaConnectionString"] = shard.Replica;
        config["Replication:Shards:0:SlotName"] = staticSlot;

        await using var server = ReplicatorServer.Create([], configuration => configuration.AddInMemoryCollection(config));
        await server.StartAsync();
        try
        {
            var marker = clusters.NewTenantId();
            await directory.AddShardAsync(marker, owner: "c", standby: "b", "active", ShardDatabase.Name(marker, "a"));
            await WaitUntilAsync(() => State(server, marker + "@a") == ShardState.Failed, () => $"marker missing: {Describe(server)}");

            Assert.Equal(staticSlot, Assert.Single(server.Runtime.Shards).SlotName);
            Assert.Single(server.Runtime.Status, s => s.Shard == tenant + "@a");
            Assert.False(await ReplicationSlots.SlotExistsAsync(shard.Source, ReplicationSlots.DefaultSlotName(shard.Database, "b")));
        }
        finally
        {
            await server.StopAsync();
            await ReplicationSlots.DropAsync(shard.Source, staticSlot, ReplicationSlots.DefaultPublication);
        }
    }

    [Fact]
    public async Task Discovery_DirectoryUnreachable_KeepsStreamsAndRecovers()
    {
        var directory = await TestDirectory.CreateAsync(clusters);
        var tenant = clusters.NewTenantId();
        var shard = await clusters.CreateShardAsync(createReplica: false, tenantId: tenant);
        var name = tenant + "@a";
        await directory.AddShardAsync(tenant, owner: "a", standby: "b", "active", shard.Database);
        // The replicator reads the directory as a role of its own, which the test can lock out. The directory client loads the
        // whole control plane: regions, tenants, shards and NAS devices.
        var role = $"reader_{tenant}";
        await TwoClusters.ExecuteAsync(directory.ConnectionString, $"CREATE ROLE {role} LOGIN; GRANT SELECT ON regions, tenants, shards, nas_devices TO {role}");
        var config = Config(directory, "00:00:00.2");
        config["Replication:Directory:ConnectionString"] = new NpgsqlConnectionStringBuilder(directory.ConnectionString) { Username = role }.ConnectionString;

        await using var server = ReplicatorServer.Create([], configuration => configuration.AddInMemoryCollection(config));
        await server.StartAsync();
        try
        {
            await WaitUntilAsync(() => State(server, name) == ShardState.Streaming, () => $"not streaming: {Describe(server)}");
            var replicator = server.Runtime.Shards.Single();

            await TwoClusters.ExecuteAsync(directory.ConnectionString,
                $"ALTER ROLE {role} NOLOGIN; SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{role}'");
            await WaitUntilAsync(() => server.Runtime.DirectoryUnreachableSince is not null, () => "the directory outage went unnoticed");
            await TwoClusters.ExecuteAsync(shard.Source, "INSERT INTO plans (id, display_name) VALUES ('outage', 'During the outage')");
            await WaitForPlanAsync(shard.Replica, "outage");
            Assert.Same(replicator, server.Runtime.Shards.Single());
            Assert.Equal(ShardState.Streaming, replicator.Status.State);

            await TwoClusters.ExecuteAsync(directory.ConnectionString, $"ALTER ROLE {role} LOGIN");
            await WaitUntilAsync(() => server.Runtime.DirectoryUnreachableSince is null, () => "the directory did not come back");
            await directory.SetStateAsync(tenant, "retiring");
            await WaitUntilAsync(() => State(server, name) is null, () => $"the retired shard is still listed: {Describe(server)}");
        }
        finally
        {
            await server.StopAsync();
            await ReplicationSlots.DropAsync(shard.Source, ReplicationSlots.DefaultSlotName(shard.Database, "b"), ReplicationSlots.DefaultPublication);
            await TwoClusters.ExecuteAsync(directory.ConnectionString, $"DROP OWNED BY {role}; DROP ROLE {role}");
        }
    }

    [Fact]
    public async Task Server_DirectoryWithoutOwnRegionServer_RefusesToStart()
    {
        await using var server = ReplicatorServer.Create([], configuration => configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Replication:Region"] = "b",
            ["urls"] = "http://127.0.0.1:0",
            ["Management:Url"] = "http://127.0.0.1:0",
            ["Replication:Directory:ConnectionString"] = "Host=127.0.0.1;Port=1;Username=geo;Password=secret-directory;Database=geo_directory",
            ["Replication:Directory:Servers:a"] = "Host=127.0.0.1;Port=1;Username=geo;Password=secret-a",
        }));

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => server.StartAsync());

        Assert.Contains("Replication:Directory:Servers:b is required", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("secret", error.Message, StringComparison.Ordinal);
    }

    private Dictionary<string, string?> Config(TestDirectory directory, string refreshInterval) => new()
    {
        ["Replication:Region"] = "b",
        ["urls"] = "http://127.0.0.1:0",
        ["Management:Url"] = "http://127.0.0.1:0",
        ["Replication:Directory:ConnectionString"] = directory.ConnectionString,
        ["Replication:Directory:Servers:a"] = Server(clusters.Source),
        ["Replication:Directory:Servers:b"] = Server(clusters.Standby),
        ["Replication:Directory:RefreshInterval"] = refreshInterval,
    };

    private static string Server(TestPostgres cluster)
    {
        var builder = new NpgsqlConnectionStringBuilder(cluster.ConnectionString());
        builder.Remove("Database");
        return builder.ConnectionString;
    }

    private static ShardState? State(ReplicatorServer server, string shard) =>
        server.Runtime.Status.FirstOrDefault(s => s.Shard == shard)?.State;

    private static string Describe(ReplicatorServer server) =>
        string.Join("; ", server.Runtime.Status.Select(s => $"{s.Shard} {s.State} {s.LastError}"));

    private static Task WaitUntilAsync(Func<bool> condition, Func<string> failure) => WaitUntilAsync(() => Task.FromResult(condition()), failure);

    private static Task WaitUntilAsync(Func<Task<bool>> condition, Func<string> failure) =>
        Eventually.TrueAsync(condition, Deadline, "the replicator reacts to the directory", context: failure);

    /// <summary>Waits until the replica (created by the replicator, so perhaps not there yet) holds the plan.</summary>
    private static Task WaitForPlanAsync(string replica, string plan) => WaitUntilAsync(async () =>
    {
        try
        {
            return await TwoClusters.ScalarAsync<long>(replica, "SELECT count(*) FROM plans WHERE id = @id", ("id", plan)) == 1;
        }
        catch (PostgresException ex) when (ex.SqlState is PostgresErrorCodes.InvalidCatalogName or PostgresErrorCodes.UndefinedTable)
        {
            return false;
        }
    }, () => $"plan '{plan}' did not reach the replica");

    private static async Task<bool?> SlotActiveAsync(string source, string slot)
    {
        await using var connection = new NpgsqlConnection(source);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT active FROM pg_replication_slots WHERE slot_name = @slot", connection);
        command.Parameters.AddWithValue("slot", slot);
        return await command.ExecuteScalarAsync() as bool?;
    }

    /// <summary>A directory database of its own, with regions a, b and c.</summary>
    private sealed class TestDirectory
    {
        private TestDirectory(string connectionString) => ConnectionString = connectionString;

        public string ConnectionString { get; }

        public static async Task<TestDirectory> CreateAsync(TwoClusters clusters)
        {
            var connectionString = await clusters.Standby.CreateDatabaseAsync("directory");
            await new MigrationRunner().ApplyAsync(connectionString, MigrationSet.Directory);
            await TwoClusters.ExecuteAsync(connectionString, """
                INSERT INTO regions (id, display_name, api_url, radius_host, radius_auth_port, radius_acct_port) VALUES
                    ('a', 'Region A', 'http://127.0.0.1:1', '127.0.0.1', 1812, 1813),
                    ('b', 'Region B', 'http://127.0.0.1:2', '127.0.0.1', 1812, 1813),
                    ('c', 'Region C', 'http://127.0.0.1:3', '127.0.0.1', 1812, 1813)
                """);
            return new TestDirectory(connectionString);
        }

        /// <summary>A tenant and its shard (homed in region a unless told).</summary>
        public Task AddShardAsync(string tenant, string owner, string standby, string state, string database, string home = "a") =>
            TwoClusters.ExecuteAsync(ConnectionString, """
                INSERT INTO tenants (id, display_name) VALUES (@tenant, @tenant) ON CONFLICT DO NOTHING;
                INSERT INTO shards (tenant_id, home_region, owner_region, standby_region, state, database_name)
                VALUES (@tenant, @home, @owner, @standby, @state, @database)
                """, ("tenant", tenant), ("home", home), ("owner", owner), ("standby", standby), ("state", state), ("database", database));

        public Task SetStateAsync(string tenant, string state) =>
            TwoClusters.ExecuteAsync(ConnectionString, "UPDATE shards SET state = @state, updated_at = now() WHERE tenant_id = @tenant", ("tenant", tenant), ("state", state));
    }
}

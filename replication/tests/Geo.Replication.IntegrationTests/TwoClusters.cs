using Geo.Replication.Applying;
using Geo.Replication.Hosting;
using Geo.Replication.PgOutput;
using Geo.Schema;
using Geo.Schema.Migrations;
using Geo.Testing;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Geo.Replication.IntegrationTests;

/// <summary>Two PostgreSQL clusters, as the owner and the standby region, shared by the tests of a collection.</summary>
public sealed class TwoClusters : IAsyncLifetime
{
    private int _shards;

    public TestPostgres Source { get; private set; } = null!;

    public TestPostgres Standby { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var source = TestPostgres.StartAsync();
        var standby = TestPostgres.StartAsync();
        Source = await source;
        Standby = await standby;
    }

    public async Task DisposeAsync()
    {
        await Source.DisposeAsync();
        await Standby.DisposeAsync();
    }

    /// <summary>A new tenant id, unique among the tests of this run.</summary>
    public string NewTenantId() => $"t{Interlocked.Increment(ref _shards)}{Guid.NewGuid().ToString("N")[..6]}";

    /// <summary>
    /// A tenant database on the source (or on <paramref name="sourceCluster"/>) and, when asked, its (migrated, still writable)
    /// replica database of the same name on the standby.
    /// </summary>
    public async Task<TestShard> CreateShardAsync(bool createReplica = true, string? extraSql = null, string? replicaExtraSql = null, string? tenantId = null, bool fence = true,
        TestPostgres? sourceCluster = null)
    {
        var tenant = tenantId ?? NewTenantId();
        var name = ShardDatabase.Name(tenant, "a");
        sourceCluster ??= Source;
        await CreateDatabaseAsync(sourceCluster, name);
        var source = sourceCluster.ConnectionString(name);
        await new MigrationRunner().ApplyAsync(source, MigrationSet.Tenant);
        if (fence)
        {
            // As provisioned: a tenant shard streams once it is migrated and fenced.
            await ShardFence.EnsureAsync(source, tenant, "a");
        }
        if (extraSql is not null)
        {
            await ExecuteAsync(source, extraSql);
        }

        var replica = Standby.ConnectionString(name);
        if (createReplica)
        {
            await CreateDatabaseAsync(Standby, name);
            await new MigrationRunner().ApplyAsync(replica, MigrationSet.Tenant);
            if (extraSql is not null)
            {
                await ExecuteAsync(replica, extraSql);
            }

            if (replicaExtraSql is not null)
            {
                await ExecuteAsync(replica, replicaExtraSql);
            }
        }

        return new TestShard(name, source, replica) { TenantId = tenant };
    }

    public static async Task ExecuteAsync(string connectionString, string sql, params (string Name, object Value)[] parameters)
    {
        await using var connection = new NpgsqlConnection(ReplicaGuard.WritableConnectionString(connectionString));
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        foreach (var (parameterName, value) in parameters)
        {
            command.Parameters.AddWithValue(parameterName, value);
        }

        await command.ExecuteNonQueryAsync();
    }

    public static async Task<T> ScalarAsync<T>(string connectionString, string sql, params (string Name, object Value)[] parameters)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        foreach (var (parameterName, value) in parameters)
        {
            command.Parameters.AddWithValue(parameterName, value);
        }

        return (T)(await command.ExecuteScalarAsync())!;
    }

    private static async Task CreateDatabaseAsync(TestPostgres cluster, string name)
    {
        await using var connection = new NpgsqlConnection(cluster.ConnectionString());
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"CREATE DATABASE {ShardDatabase.Quote(name)}", connection);
        await command.ExecuteNonQueryAsync();
    }
}

[CollectionDefinition(Name)]
public sealed class TwoClustersGroup : ICollectionFixture<TwoClusters>
{
    public const string Name = "two clusters";
}

/// <summary>A shard's source and replica connection strings.</summary>
public sealed record TestShard(string Database, string Source, string Replica)
{
    /// <summary>The shard's tenant (its home region is <c>a</c>).</summary>
    public string TenantId { get; init; } = "";

    public ShardReplicationOptions Options(bool applyTenantMigrations = false) => new()
    {
        Name = Database + "@a",
        SourceConnectionString = Source,
        ReplicaConnectionString = Replica,
        ApplyTenantMigrations = applyTenantMigrations,
    };
}

/// <summary>A <see cref="ShardReplicator"/> running in the test process until disposed.</summary>
public sealed class RunningReplicator : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _run;

    private RunningReplicator(ShardReplicator replicator)
    {
        Replicator = replicator;
        _run = Task.Run(() => replicator.RunAsync(_stop.Token));
    }

    public ShardReplicator Replicator { get; }

    public static RunningReplicator Start(ShardReplicationOptions shard, ReplicatorOptions? settings = null, ILoggerFactory? loggerFactory = null) =>
        new(new ShardReplicator(shard, settings ?? new ReplicatorOptions { Region = "b" }, loggerFactory ?? TestLogging.Factory, TimeProvider.System, new Kafka.KafkaSourceFactory()));

    /// <summary>Waits until the stream applies changes (initial sync done).</summary>
    public Task WaitStreamingAsync() =>
        Eventually.TrueAsync(() => Replicator.Status.State == ShardState.Streaming, TimeSpan.FromSeconds(60), $"{Replicator.SlotName} streams",
            context: () => $"status: {Replicator.Status}");

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        // A replicator that does not stop is a failure of this test, not a hang of the whole run.
        await _run.WaitAsync(TimeSpan.FromSeconds(60));
        _stop.Dispose();
    }

    /// <summary>Drops the stream's slot and publication (a slot left behind keeps WAL).</summary>
    public async Task RetireAsync(string sourceConnectionString)
    {
        await DisposeAsync();
        await ReplicationSlots.DropAsync(sourceConnectionString, Replicator.SlotName, ReplicationSlots.DefaultPublication);
    }
}

internal static class TestLogging
{
    // GEO_TEST_LOG=Debug (or Information) shows the replicator's logs on the console when a test needs explaining.
    public static ILoggerFactory Factory { get; } = LoggerFactory.Create(builder => builder
        .SetMinimumLevel(Enum.TryParse<LogLevel>(Environment.GetEnvironmentVariable("GEO_TEST_LOG"), out var level) ? level : LogLevel.Warning)
        .AddSimpleConsole(options => options.SingleLine = true));
}

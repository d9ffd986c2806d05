using System.Globalization;
using Geo.Directory.Regions;
using Geo.Directory.Stores.Postgres;
using Geo.Schema;
using Geo.Schema.Migrations;
using Geo.Schema.Secrets;
using Geo.Testing;

namespace Geo.Provisioning.IntegrationTests;

/// <summary>
/// One test's platform: regions a and b, each with its own PostgreSQL server (a private cluster: the lifecycle lock
/// is taken on every region's server, so two regions cannot share one), a fresh migrated directory database, and a
/// tenant id no other test uses (shard database names derive from it).
/// </summary>
internal sealed class Platform : IAsyncDisposable
{
    private static readonly Lazy<Task<TestPostgres>> RegionBServer = new(StartRegionBAsync);
    private static int _tenants;

    private Platform(PlatformDatabases databases, PostgresDirectoryStore directory, string tenantId)
    {
        Databases = databases;
        Directory = directory;
        TenantId = tenantId;
    }

    public PlatformDatabases Databases { get; }

    public PostgresDirectoryStore Directory { get; }

    /// <summary>A tenant id unique to this test.</summary>
    public string TenantId { get; }

    public CollectedProgress Progress { get; } = new();

    public static async Task<Platform> CreateAsync()
    {
        var a = await TestPostgres.SharedAsync();
        var b = await RegionBServer.Value;
        var directory = await a.CreateDatabaseAsync("directory");
        await new MigrationRunner().ApplyAsync(directory, MigrationSet.Directory);
        var store = new PostgresDirectoryStore(directory);
        await store.UpsertRegionAsync(new Region("a", "Region a", new Uri("http://127.0.0.1:1001"), "127.0.0.1", 1812, 1813), default);
        await store.UpsertRegionAsync(new Region("b", "Region b", new Uri("http://127.0.0.1:1002"), "127.0.0.1", 2812, 2813), default);
        var databases = new PlatformDatabases(directory, new Dictionary<string, string> { ["a"] = a.ConnectionString(), ["b"] = b.ConnectionString() });
        var tenant = $"t{Interlocked.Increment(ref _tenants).ToString(CultureInfo.InvariantCulture)}_{Guid.NewGuid().ToString("N")[..8]}";
        return new Platform(databases, store, tenant);
    }

    /// <summary>The key ring shard inventories seal NAS secrets with.</summary>
    public SecretBox Secrets { get; } = new(SecretKeyring.Generate());

    public NasProvisioner Nas(TimeProvider? time = null) => new(Directory, Databases, Secrets, Progress, time);

    public TenantProvisioner Tenants(IProvisioningProgress? progress = null, ProvisioningOptions? options = null, ITenantKeyStore? keys = null) =>
        new(Directory, Databases, progress ?? Progress, options, keys);

    /// <summary>The connection string of the tenant's shard database homed in <paramref name="home"/>, on <paramref name="region"/>'s server.</summary>
    public string Shard(string home, string? region = null) => Databases.Database(region ?? home, ShardDatabase.Name(TenantId, home));

    public async Task<bool> ShardDatabaseExistsAsync(string home, string? region = null) =>
        await Sql.ScalarAsync<bool>(Databases.Maintenance(region ?? home), "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)",
            ShardDatabase.Name(TenantId, home));

    public ValueTask DisposeAsync() => Directory.DisposeAsync();

    private static async Task<TestPostgres> StartRegionBAsync()
    {
        var server = await TestPostgres.StartAsync();
        AppDomain.CurrentDomain.ProcessExit += (_, _) => server.DisposeAsync().AsTask().GetAwaiter().GetResult();
        return server;
    }
}

/// <summary>Runs the steps, and fails (as a crash or a lost connection would) at the first step whose name contains a marker.</summary>
internal sealed class FailingProgress(string failAt) : IProvisioningProgress
{
    public async Task<T> StepAsync<T>(string name, Func<Task<T>> action, Func<T, string>? describe = null)
    {
        if (name.Contains(failAt, StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"interrupted at '{name}'");
        }

        return await action();
    }

    public void Line(string text)
    {
    }
}

/// <summary>Runs the steps, and holds the command at the first step whose name contains a marker until released (a phase barrier, not a sleep).</summary>
internal sealed class PausingProgress(string pauseAt) : IProvisioningProgress
{
    private readonly TaskCompletionSource _paused = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes when the command reached the step.</summary>
    public Task Paused => _paused.Task;

    public void Release() => _release.TrySetResult();

    public async Task<T> StepAsync<T>(string name, Func<Task<T>> action, Func<T, string>? describe = null)
    {
        if (name.Contains(pauseAt, StringComparison.Ordinal))
        {
            _paused.TrySetResult();
            await _release.Task;
        }

        return await action();
    }

    public void Line(string text)
    {
    }
}

/// <summary>Keeps issued API keys in memory, as the local stack's key file does on disk.</summary>
internal sealed class MemoryKeyStore : ITenantKeyStore
{
    private readonly Dictionary<string, string> _keys = new(StringComparer.Ordinal);

    public Task<string?> FindAsync(string tenantId, CancellationToken cancellationToken) => Task.FromResult(_keys.GetValueOrDefault(tenantId));

    public Task SaveAsync(string tenantId, string key, CancellationToken cancellationToken)
    {
        _keys[tenantId] = key;
        return Task.CompletedTask;
    }

    public Task DeleteAsync(string tenantId, CancellationToken cancellationToken)
    {
        _keys.Remove(tenantId);
        return Task.CompletedTask;
    }

    public string Describe(string tenantId) => $"memory:{tenantId}";
}

using System.Globalization;
using Geo.Engines;
using Geo.Engines.Postgres;
using Npgsql;

namespace Geo.Testing;

/// <summary>
/// A throwaway PostgreSQL 15 cluster (wal_level=logical, fsync off) in a temp folder on a free port.
/// A <see cref="Reaper"/> stops it and removes its folder when it is disposed or when the test process
/// dies in any way, so no orphan <c>postgres</c> outlives a test run.
/// </summary>
public sealed class TestPostgres : IAsyncDisposable
{
    private static readonly Lazy<Task<TestPostgres>> SharedInstance = new(() => StartTracked(StartAsync()));
    private readonly Reaper _reaper;
    private readonly IReadOnlyDictionary<string, string>? _settings;
    private int _databases;

    private TestPostgres(PostgresCluster cluster, Reaper reaper, IReadOnlyDictionary<string, string>? settings)
    {
        Cluster = cluster;
        _reaper = reaper;
        _settings = settings;
    }

    /// <summary>The cluster.</summary>
    public PostgresCluster Cluster { get; }

    /// <summary>The cluster shared by every test of this assembly; started on first use, stopped at process exit.</summary>
    public static Task<TestPostgres> SharedAsync() => SharedInstance.Value;

    /// <summary>Starts a cluster of its own, for tests that need several or that stop one.</summary>
    public static Task<TestPostgres> StartAsync(CancellationToken cancellationToken = default) => StartAsync(settings: null, cancellationToken);

    /// <summary>Starts a cluster of its own with server <paramref name="settings"/> over the test defaults (say <c>synchronous_commit = on</c>).</summary>
    public static async Task<TestPostgres> StartAsync(IReadOnlyDictionary<string, string>? settings, CancellationToken cancellationToken = default)
    {
        var directory = Path.Combine(TestFolders.Create("pg"), "cluster");
        var cluster = await PostgresCluster.StartAsync(Options(directory, settings), cancellationToken);
        return new TestPostgres(cluster, Reaper.Start(cluster.DestroyScript() + $"; rm -rf {Shell.Quote(Path.GetDirectoryName(directory)!)}"), settings);
    }

    /// <summary>A connection string for a database of this cluster.</summary>
    public string ConnectionString(string database = "postgres") => Cluster.ConnectionString(database);

    /// <summary>Creates a new empty database (or a copy of <paramref name="template"/>) and returns its connection string.</summary>
    public async Task<string> CreateDatabaseAsync(string prefix = "test", string? template = null, CancellationToken cancellationToken = default)
    {
        var name = $"{prefix}_{Interlocked.Increment(ref _databases).ToString(CultureInfo.InvariantCulture)}_{Guid.NewGuid().ToString("N")[..8]}";
        if (template is not null)
        {
            // CREATE DATABASE ... TEMPLATE refuses while anyone is connected to the template.
            NpgsqlConnection.ClearAllPools();
        }

        await using var connection = new NpgsqlConnection(ConnectionString());
        await connection.OpenAsync(cancellationToken);
        var sql = template is null ? $"CREATE DATABASE \"{name}\"" : $"CREATE DATABASE \"{name}\" TEMPLATE \"{template}\"";
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(cancellationToken);
        return ConnectionString(name);
    }

    /// <summary>Starts the cluster again after it was stopped or killed (crash recovery), with the settings it was started with.</summary>
    public async Task RestartAsync(CancellationToken cancellationToken = default) =>
        await PostgresCluster.StartAsync(Options(Cluster.Directory, _settings), cancellationToken);

    /// <summary>Stops the cluster and removes its folder.</summary>
    public ValueTask DisposeAsync()
    {
        _reaper.Dispose();
        return ValueTask.CompletedTask;
    }

    private static PostgresClusterOptions Options(string directory, IReadOnlyDictionary<string, string>? settings) =>
        new() { Directory = directory, Durable = false, Settings = settings ?? new Dictionary<string, string>() };

    private static async Task<TestPostgres> StartTracked(Task<TestPostgres> starting)
    {
        var instance = await starting;
        AppDomain.CurrentDomain.ProcessExit += (_, _) => instance._reaper.Dispose();
        return instance;
    }
}

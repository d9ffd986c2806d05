using Geo.Directory;
using Geo.Directory.Placement;
using Geo.Directory.Shards;
using Geo.Schema;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Geo.Router.Hosting;

/// <summary>
/// Runs <see cref="OrphanPlacementSweeper"/> every <see cref="RouterOptions.OrphanSweepInterval"/>: placements older
/// than <see cref="RouterOptions.OrphanSweepMinAge"/> whose subscriber row is missing from the shard's database (in its
/// owner region, through <see cref="AdminOptions.Servers"/>) are removed. A create the router saw refused takes its
/// placement back at once; this catches the rest (a create that timed out, a router stopped mid-create).
/// </summary>
internal sealed partial class OrphanSweepService : BackgroundService
{
    private readonly DirectoryCache _directory;
    private readonly RouterOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<OrphanSweepService> _logger;
    private readonly OrphanPlacementSweeper _sweeper;
    private readonly PlatformDatabases? _databases;

    public OrphanSweepService(DirectoryCache directory, IOptions<RouterOptions> options, TimeProvider time, ILoggerFactory loggers)
    {
        _directory = directory;
        _options = options.Value;
        _time = time;
        _logger = loggers.CreateLogger<OrphanSweepService>();
        _sweeper = new OrphanPlacementSweeper(directory.Store, loggers.CreateLogger<OrphanPlacementSweeper>(), time);
        _databases = _options.Admin.Servers.Count > 0
            ? new PlatformDatabases(_options.DirectoryConnectionString ?? "(directory in Consul)", _options.Admin.Servers)
            : null;
    }

    /// <summary>Whether sweeps run (an interval, and the servers to check rows in).</summary>
    public bool Enabled => _options.OrphanSweepInterval > TimeSpan.Zero && _databases is not null;

    /// <summary>One sweep now; returns how many placements were removed.</summary>
    public Task<int> SweepOnceAsync(CancellationToken cancellationToken) =>
        _sweeper.SweepAsync(new OrphanSweepOptions { MinAge = _options.OrphanSweepMinAge }, ExistingAsync, cancellationToken);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!Enabled)
        {
            LogOff();
            return;
        }

        using var timer = new PeriodicTimer(_options.OrphanSweepInterval, _time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                await SweepOnceAsync(stoppingToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // The directory was unreachable: the next sweep looks at the same placements again.
                LogSweepFailed(ex);
            }
        }
    }

    /// <summary>Those of <paramref name="usernames"/> that have a subscriber row in the shard's database.</summary>
    private async Task<IReadOnlySet<string>> ExistingAsync(ShardKey key, IReadOnlyList<string> usernames, CancellationToken cancellationToken)
    {
        if (!_directory.Current.TryGetShard(key, out var shard))
        {
            throw new InvalidOperationException($"shard {key} is not in this router's directory snapshot");
        }

        await using var connection = new NpgsqlConnection(_databases!.Database(shard.OwnerRegion, shard.DatabaseName));
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand("SELECT username FROM subscribers WHERE username = ANY($1)", connection);
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. usernames] });
        var existing = new HashSet<string>(StringComparer.Ordinal);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            existing.Add(reader.GetString(0));
        }

        return existing;
    }

    [LoggerMessage(EventId = 3311, Level = LogLevel.Information, Message = "Orphan placement sweep off: it needs Router:OrphanSweepInterval above zero and Router:Admin:Servers to read shard databases")]
    private partial void LogOff();

    [LoggerMessage(EventId = 3312, Level = LogLevel.Warning, Message = "Orphan placement sweep failed; the next one retries")]
    private partial void LogSweepFailed(Exception exception);
}

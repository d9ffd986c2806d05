using System.Threading.Channels;
using Geo.Replication.Hosting;
using Geo.Schema;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Geo.Replication.Discovery;

/// <summary>
/// Follows the directory (LISTEN <c>geo_directory</c>, plus every <see cref="ReplicatorDirectoryOptions.RefreshInterval"/>
/// as a safety net) for the shards this region stands by for. While it is unreachable running streams stay as they are.
/// </summary>
internal sealed partial class ShardDiscovery
{
    private const string ListenChannel = "geo_directory";
    private const string ShardsQuery = "SELECT tenant_id, home_region, owner_region, database_name, state FROM shards WHERE standby_region = @region";
    private static readonly TimeSpan FailureLogInterval = TimeSpan.FromMinutes(1);
    private static readonly TimeSpan MaxListenBackoff = TimeSpan.FromSeconds(30);

    private readonly string _region;
    private readonly string _directory;
    private readonly TimeSpan _refreshInterval;
    private readonly PlatformDatabases _servers;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();

    // Guarded by _gate: the listener and the reader both report.
    private DateTimeOffset? _unreachableSince;
    private DateTimeOffset _lastFailureLog;
    private int _suppressedFailures;

    public ShardDiscovery(ReplicatorOptions options, TimeProvider time, ILogger<ShardDiscovery> logger)
    {
        var directory = options.Directory;
        _region = options.Region;
        _directory = directory.ConnectionString ?? throw new ArgumentException("Replication:Directory:ConnectionString is not set", nameof(options));
        _refreshInterval = directory.RefreshInterval;
        _servers = new PlatformDatabases(_directory, new Dictionary<string, string>(directory.Servers, StringComparer.Ordinal));
        _time = time;
        _logger = logger;
    }

    /// <summary>Since when the directory could not be read or listened to; null while it can.</summary>
    public DateTimeOffset? UnreachableSince
    {
        get
        {
            lock (_gate)
            {
                return _unreachableSince;
            }
        }
    }

    /// <summary>Calls <paramref name="apply"/> with the wanted streams after every successful read, until cancelled.</summary>
    public async Task RunAsync(Func<IReadOnlyList<DiscoveredShard>, CancellationToken, Task> apply, CancellationToken cancellationToken)
    {
        // One pending signal is enough: a read after it sees every change committed before it.
        var changes = Channel.CreateBounded<bool>(new BoundedChannelOptions(1)
        {
            FullMode = BoundedChannelFullMode.DropWrite,
            SingleReader = true,
        });
        var listening = Task.Run(() => ListenAsync(changes.Writer, cancellationToken), CancellationToken.None);
        try
        {
            while (true)
            {
                while (changes.Reader.TryRead(out _))
                {
                }

                IReadOnlyList<StandbyShard>? rows = null;
                try
                {
                    rows = await ReadAsync(cancellationToken);
                    ReportReachable();
                }
                catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
                {
                    // Keep the running streams: an unreachable directory says nothing about the shards.
                    ReportUnreachable(ex);
                }

                if (rows is not null)
                {
                    await apply(DiscoveryPlan.Desired(rows, _region, _servers), cancellationToken);
                }

                await WaitForChangeAsync(changes.Reader, cancellationToken);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        finally
        {
            await listening;
        }
    }

    private async Task<IReadOnlyList<StandbyShard>> ReadAsync(CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(_directory);
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand(ShardsQuery, connection);
        command.Parameters.AddWithValue("region", _region);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var rows = new List<StandbyShard>();
        while (await reader.ReadAsync(cancellationToken))
        {
            rows.Add(new StandbyShard(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetString(4)));
        }

        return rows;
    }

    private async Task WaitForChangeAsync(ChannelReader<bool> changes, CancellationToken cancellationToken)
    {
        using var poll = new CancellationTokenSource(_refreshInterval, _time);
        using var either = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, poll.Token);
        try
        {
            await changes.WaitToReadAsync(either.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            // The refresh interval passed: read anyway.
        }
    }

    /// <summary>Keeps a LISTEN connection open, signalling after each (re)connection and each notification.</summary>
    private async Task ListenAsync(ChannelWriter<bool> changes, CancellationToken cancellationToken)
    {
        // Not pooled: the session that listens is this one, for as long as it lives.
        var connectionString = new NpgsqlConnectionStringBuilder(_directory) { Pooling = false }.ConnectionString;
        var backoff = TimeSpan.FromSeconds(1);
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await using var connection = new NpgsqlConnection(connectionString);
                connection.Notification += (_, _) => changes.TryWrite(true);
                await connection.OpenAsync(cancellationToken);
                await using (var listen = new NpgsqlCommand($"LISTEN {ListenChannel}", connection))
                {
                    await listen.ExecuteNonQueryAsync(cancellationToken);
                }

                backoff = TimeSpan.FromSeconds(1);
                ReportReachable();
                // Whatever changed while nobody listened is read now.
                changes.TryWrite(true);
                while (true)
                {
                    if (!await connection.WaitAsync(_refreshInterval, cancellationToken))
                    {
                        // An idle connection is pinged so that a dead one is noticed.
                        await using var ping = new NpgsqlCommand("SELECT 1", connection);
                        await ping.ExecuteScalarAsync(cancellationToken);
                    }
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                ReportUnreachable(ex);
            }

            try
            {
                await Task.Delay(backoff, _time, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, MaxListenBackoff.Ticks));
        }
    }

    private void ReportUnreachable(Exception exception)
    {
        var now = _time.GetUtcNow();
        lock (_gate)
        {
            if (_unreachableSince is not null && now - _lastFailureLog < FailureLogInterval)
            {
                _suppressedFailures++;
                return;
            }

            _unreachableSince ??= now;
            LogDirectoryUnreachable(_logger, _suppressedFailures, exception);
            _lastFailureLog = now;
            _suppressedFailures = 0;
        }
    }

    private void ReportReachable()
    {
        var now = _time.GetUtcNow();
        lock (_gate)
        {
            if (_unreachableSince is { } since)
            {
                LogDirectoryReachable(_logger, (now - since).TotalSeconds);
                _unreachableSince = null;
                _suppressedFailures = 0;
            }
        }
    }

    [LoggerMessage(EventId = 4601, Level = LogLevel.Warning,
        Message = "Directory unreachable; keeping the current streams and retrying ({Suppressed} further failures were not logged since the last report)")]
    private static partial void LogDirectoryUnreachable(ILogger logger, int suppressed, Exception exception);

    [LoggerMessage(EventId = 4602, Level = LogLevel.Information, Message = "Directory reachable again after {Seconds:F0} s")]
    private static partial void LogDirectoryReachable(ILogger logger, double seconds);
}

using Geo.RegionNode.Shards;
using Geo.RegionNode.Telemetry;
using Microsoft.Extensions.Options;
using Npgsql;
using StackExchange.Redis;

namespace Geo.RegionNode.Caching;

/// <summary>
/// <see cref="IRegionCache"/> on Redis with a short-lived in-process profile copy, invalidated across the region. Failures
/// count as misses; after an outage the session index is rebuilt under a new generation and counts come from PostgreSQL
/// meanwhile, so an outage never lets a subscriber over their limit. Sessions feed <see cref="LocalSessionIndex"/>.
/// </summary>
internal sealed partial class RedisRegionCache : IRegionCache, IAsyncDisposable
{
    private static readonly TimeSpan SessionKeyTtl = TimeSpan.FromDays(2);
    private const string InvalidationChannel = "geo:profile-invalidations";
    private const string SessionChannel = "geo:session-changes";
    private readonly Guid _nodeId = Guid.NewGuid();
    private readonly LocalSessionIndex _sessions;
    private readonly BoundedCache<(string Database, string Username), AuthProfile> _local;
    private readonly TimeProvider _time;
    private readonly ConnectionMultiplexer? _redis;
    private readonly RegionNodeOptions _options;
    private readonly ShardCatalog _catalog;
    private readonly ILogger<RedisRegionCache> _logger;
    private readonly Counter _errors;
    private readonly Counter _rebuilds;
    private readonly SemaphoreSlim _rebuildGate = new(1, 1);
    private long _generation;
    private long _connectionChanges;
    private long _lastScheduledRebuild;
    private bool _rebuildAgain;

    public RedisRegionCache(IOptions<RegionNodeOptions> options, ShardCatalog catalog, Metrics metrics, TimeProvider time, ILogger<RedisRegionCache> logger)
    {
        _options = options.Value;
        _time = time;
        _sessions = new LocalSessionIndex(time);
        _local = new(name: "profiles", _options.LocalProfileEntries, _options.LocalProfileTtl, time, metrics);
        _catalog = catalog;
        // Counts kept while this region owned a shard before are stale once another region served it in between.
        catalog.OwnershipEnded += _sessions.Forget;
        _logger = logger;
        _errors = metrics.Counter("geo_redis_errors_total", "Redis calls that failed and were answered from PostgreSQL instead");
        _rebuilds = metrics.Counter("geo_redis_session_index_rebuilds_total", "Times the active-session index was rebuilt from PostgreSQL");
        metrics.Gauge("geo_redis_connected", "1 while Redis is connected", () => _redis?.IsConnected == true ? 1 : 0);
        metrics.Gauge("geo_session_index_entries", "Open sessions in this node's in-memory copy of the region's session index", () => _sessions.Count);
        if (_options.RedisEndpoint.Length == 0)
        {
            return;
        }

        var configuration = new ConfigurationOptions
        {
            AbortOnConnectFail = false,
            ConnectTimeout = 1000,
            SyncTimeout = 1000,
            ConnectRetry = 1,
            KeepAlive = 5,
            Password = string.IsNullOrEmpty(_options.RedisPasswordFile) ? null : File.ReadAllText(_options.RedisPasswordFile).Trim(),
        };
        configuration.EndPoints.Add(_options.RedisEndpoint);
        _redis = ConnectionMultiplexer.Connect(configuration);
        _redis.ConnectionFailed += (_, _) =>
        {
            Interlocked.Increment(ref _connectionChanges);
            MarkSessionIndexInvalid();
        };
        _redis.ConnectionRestored += (_, _) =>
        {
            Interlocked.Increment(ref _connectionChanges);
            Volatile.Write(ref _rebuildAgain, true);
            // Changes this node made while disconnected were never published: the others reload too.
            _ = RebuildSessionIndexAsync(announce: true);
        };
        try
        {
            var subscriber = _redis.GetSubscriber();
            subscriber.Subscribe(RedisChannel.Literal(InvalidationChannel), (_, message) => EvictLocal((string?)message));
            // A message queue, not a handler: handlers may run concurrently, and a session's open and close must apply in order.
            subscriber.Subscribe(RedisChannel.Literal(SessionChannel)).OnMessage(message =>
            {
                if (SessionChange.TryParse(message.Message, out var origin, out var change) && origin != _nodeId)
                {
                    _sessions.Apply(change);
                }
                else if (IsResync(message.Message, out var from) && from != _nodeId)
                {
                    _ = RebuildSessionIndexAsync();
                }
            });
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            Failed(ex);
        }
    }

    public bool SessionIndexValid => _sessions.Valid && _redis?.IsConnected == true;

    private IDatabase? Database => _redis is { IsConnected: true } redis ? redis.GetDatabase() : null;

    public bool TryGetLocalProfile(string database, string username, out AuthProfile profile) => _local.TryGet((database, username), out profile);

    public async Task<AuthProfile?[]> GetProfilesAsync(string database, IReadOnlyList<string> usernames)
    {
        var profiles = new AuthProfile?[usernames.Count];
        if (Database is not { } db)
        {
            return profiles;
        }

        try
        {
            var keys = new RedisKey[usernames.Count];
            for (var i = 0; i < keys.Length; i++)
            {
                keys[i] = ProfileKey(database, usernames[i]);
            }

            var values = await db.StringGetAsync(keys);
            for (var i = 0; i < values.Length; i++)
            {
                if (!values[i].IsNull && AuthProfile.Deserialize((byte[])values[i]!) is { } profile)
                {
                    profiles[i] = profile;
                    _local.Set((database, usernames[i]), profile);
                }
            }
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException or ObjectDisposedException)
        {
            Failed(ex);
        }

        return profiles;
    }

    public void SetProfiles(string database, IReadOnlyList<(string Username, AuthProfile Profile)> profiles)
    {
        if (profiles.Count == 0)
        {
            return;
        }

        if (Database is null)
        {
            // No region cache to fall back on: the node's own copy is the only one.
            foreach (var (username, profile) in profiles)
            {
                _local.Set((database, username), profile);
            }

            return;
        }

        // The node keeps its own copy from the second read on (a Redis hit), not from this first one: a subscriber
        // logs in once per session, so a copy of every profile read on the cold path would mostly expire unused, and
        // each one outlives a young-generation collection (measured: the GC pauses that set the cold path's p99).
        // One batch of SETs, sent without waiting: the synchronous API takes the connection's write lock on the caller's
        // thread, and under a cold-cache burst pool threads queued on that lock (profiled: 8 % of thread time). A Lua
        // script setting them all cost Redis more per key (285 µs per 50) than plain SETs (4 µs each).
        Try(db =>
        {
            var batch = db.CreateBatch();
            foreach (var (username, profile) in profiles)
            {
                _ = batch.StringSetAsync(ProfileKey(database, username), profile.Serialize(), _options.ProfileCacheTtl, When.Always, CommandFlags.FireAndForget);
            }

            batch.Execute();
        });
    }

    public event Action<string, string>? ProfileChanged;

    public async Task InvalidateProfileAsync(string database, string username)
    {
        _local.Remove((database, username));
        ProfileChanged?.Invoke(database, username);
        if (Database is not { } db)
        {
            return;
        }

        try
        {
            await db.KeyDeleteAsync(ProfileKey(database, username));
            await db.PublishAsync(RedisChannel.Literal(InvalidationChannel), $"{database}\n{username}");
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException or ObjectDisposedException)
        {
            Failed(ex);
        }
    }

    public ValueTask<long?> CountSessionsAsync(string database, Guid subscriberId)
    {
        if (!SessionIndexValid)
        {
            return ValueTask.FromResult<long?>(null);
        }

        var count = _sessions.CountSessions(database, subscriberId);
        if (count is null)
        {
            // A shard this node took on after the last load: PostgreSQL answers until a reload includes it.
            ScheduleRebuild();
        }

        return ValueTask.FromResult(count);
    }

    public void AddSession(string database, Guid subscriberId, Guid sessionId) => Changed(new SessionChange(true, database, subscriberId, sessionId), db =>
    {
        var key = SessionKey(database, subscriberId);
        _ = db.SetAddAsync(key, sessionId.ToByteArray(), CommandFlags.FireAndForget);
        _ = db.KeyExpireAsync(key, SessionKeyTtl, ExpireWhen.Always, CommandFlags.FireAndForget);
    });

    public void RemoveSession(string database, Guid subscriberId, Guid sessionId) => Changed(new SessionChange(false, database, subscriberId, sessionId),
        db => _ = db.SetRemoveAsync(SessionKey(database, subscriberId), sessionId.ToByteArray(), CommandFlags.FireAndForget));

    /// <summary>A session change: into this node's index at once, into Redis's index, and to the region's other nodes.</summary>
    private void Changed(SessionChange change, Action<IDatabase> index)
    {
        _sessions.Apply(change);
        Try(db =>
        {
            index(db);
            _ = db.PublishAsync(RedisChannel.Literal(SessionChannel), change.Format(_nodeId), CommandFlags.FireAndForget);
        });
    }

    /// <summary>
    /// Loads every open session of the owned shards into a new generation of the index. With <paramref name="announce"/>
    /// the other nodes of the region are told to reload as well (this node's changes may not have reached them).
    /// </summary>
    public async Task RebuildSessionIndexAsync(bool announce = false)
    {
        if (_redis is null || !await _rebuildGate.WaitAsync(0))
        {
            // One is running; it runs once more when done, so a connection restored meanwhile is not missed.
            Volatile.Write(ref _rebuildAgain, true);
            return;
        }

        Volatile.Write(ref _rebuildAgain, false);
        var connectionChanges = Interlocked.Read(ref _connectionChanges);

        var loading = false;
        try
        {
            await _catalog.FirstLoad;
            var generation = Interlocked.Increment(ref _generation);
            _sessions.BeginLoad();
            loading = true;
            var db = _redis.GetDatabase();
            foreach (var shard in _catalog.Shards)
            {
                await using var connection = await shard.DataSource.OpenConnectionAsync();
                await using var command = new NpgsqlCommand("SELECT subscriber_id, id FROM sessions WHERE state = 'open' AND subscriber_id IS NOT NULL", connection);
                await using var reader = await command.ExecuteReaderAsync();
                var batch = db.CreateBatch();
                var pending = new List<Task>();
                while (await reader.ReadAsync())
                {
                    var key = SessionKey(shard.DatabaseName, reader.GetGuid(0), generation);
                    _sessions.Load(shard.DatabaseName, reader.GetGuid(0), reader.GetGuid(1));
                    pending.Add(batch.SetAddAsync(key, reader.GetGuid(1).ToByteArray()));
                    pending.Add(batch.KeyExpireAsync(key, SessionKeyTtl));
                }

                batch.Execute();
                await Task.WhenAll(pending);
                _sessions.Loaded(shard.DatabaseName);
            }

            // Trusted only if both connections (commands and the change channel) stayed up for the whole load: a change
            // published while the channel was down would be missing from the in-memory copy.
            bool StillConnected() => Interlocked.Read(ref _generation) == generation && _redis.IsConnected &&
                Interlocked.Read(ref _connectionChanges) == connectionChanges && _redis.GetSubscriber().IsConnected(RedisChannel.Literal(SessionChannel));
            // A connection lost after this check invalidates the index under the same lock (MarkSessionIndexInvalid).
            _sessions.EndLoad(complete: true, StillConnected);
            loading = false;
            if (_sessions.Valid)
            {
                _rebuilds.Increment();
                LogRebuilt(_logger, generation);
                if (announce)
                {
                    await db.PublishAsync(RedisChannel.Literal(SessionChannel), $"{_nodeId:N} R");
                }
            }
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException or NpgsqlException or ObjectDisposedException or InvalidOperationException)
        {
            // Counts come from PostgreSQL meanwhile; Failed schedules another attempt.
            Failed(ex);
        }
        finally
        {
            if (loading)
            {
                _sessions.EndLoad(complete: false);
            }

            _rebuildGate.Release();
        }

        if (Volatile.Read(ref _rebuildAgain) && _redis.IsConnected)
        {
            _ = RebuildSessionIndexAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_redis is not null)
        {
            await _redis.CloseAsync(allowCommandsToComplete: false);
            _redis.Dispose();
        }

        _rebuildGate.Dispose();
    }

    private void EvictLocal(string? message)
    {
        var newline = message?.IndexOf('\n', StringComparison.Ordinal) ?? -1;
        if (newline > 0)
        {
            var (database, username) = (message![..newline], message[(newline + 1)..]);
            _local.Remove((database, username));
            ProfileChanged?.Invoke(database, username);
        }
    }

    private void Try(Action<IDatabase> action)
    {
        if (Database is not { } db)
        {
            return;
        }

        try
        {
            action(db);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException or ObjectDisposedException)
        {
            Failed(ex);
        }
    }

    /// <summary>A reload soon, at most one every few seconds, when the index went untrusted without a reconnect to trigger one.</summary>
    private void ScheduleRebuild()
    {
        var now = _time.GetTimestamp();
        var last = Interlocked.Read(ref _lastScheduledRebuild);
        if (_redis?.IsConnected != true || (last != 0 && _time.GetElapsedTime(last, now) < TimeSpan.FromSeconds(5)) ||
            Interlocked.CompareExchange(ref _lastScheduledRebuild, now, last) != last)
        {
            return;
        }

        _ = Task.Run(async () =>
        {
            await Task.Delay(TimeSpan.FromSeconds(1), _time);
            await RebuildSessionIndexAsync();
        });
    }

    private static bool IsResync(string? message, out Guid origin)
    {
        origin = default;
        return message is { Length: 34 } && message.EndsWith(" R", StringComparison.Ordinal) && Guid.TryParseExact(message.AsSpan(0, 32), "N", out origin);
    }

    private void Failed(Exception exception)
    {
        _errors.Increment();
        MarkSessionIndexInvalid();
        ScheduleRebuild();
        LogFailed(_logger, exception.GetType().Name);
    }

    private void MarkSessionIndexInvalid()
    {
        if (_sessions.Invalidate())
        {
            LogSessionIndexInvalid(_logger);
        }
    }

    private static RedisKey ProfileKey(string database, string username) => $"geo:p:{database}:{username}";

    private RedisKey SessionKey(string database, Guid subscriberId) => SessionKey(database, subscriberId, Interlocked.Read(ref _generation));

    private static RedisKey SessionKey(string database, Guid subscriberId, long generation) => $"geo:s:{generation}:{database}:{subscriberId:N}";

    [LoggerMessage(EventId = 1300, Level = LogLevel.Warning, Message = "Redis call failed ({Error}); answering from PostgreSQL")]
    private static partial void LogFailed(ILogger logger, string error);

    [LoggerMessage(EventId = 1301, Level = LogLevel.Warning, Message = "Redis session index is no longer valid; simultaneous-use counts come from PostgreSQL until it is rebuilt")]
    private static partial void LogSessionIndexInvalid(ILogger logger);

    [LoggerMessage(EventId = 1302, Level = LogLevel.Information, Message = "Redis session index rebuilt from PostgreSQL (generation {Generation})")]
    private static partial void LogRebuilt(ILogger logger, long generation);
}

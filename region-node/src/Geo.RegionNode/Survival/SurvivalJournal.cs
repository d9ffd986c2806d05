using System.Net;
using System.Threading.Channels;
using Geo.Radius;
using Geo.Radius.Dictionary;
using Geo.RegionNode.Telemetry;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;

namespace Geo.RegionNode.Survival;

/// <summary>
/// The survivability journal: accounting this region acknowledged for a shard it stands by for while the shard's owner
/// could not be reached. Each request is committed here (in <see cref="RegionNodeOptions.JournalDatabase"/>, a database
/// of this region's PostgreSQL that replication never touches), group-committed, before it is acknowledged; it stays
/// until <see cref="JournalReplay"/> has handed it to the shard's owner, whoever that is by then. The packet is kept as
/// received, with an Event-Timestamp of when it was received added, so that it is charged for when it happened.
/// </summary>
internal sealed partial class SurvivalJournal : IAsyncDisposable
{
    private const int MaxBatch = 500;
    private readonly RegionNodeOptions _options;
    private readonly ILogger<SurvivalJournal> _logger;
    private readonly Channel<Pending> _queue = Channel.CreateBounded<Pending>(new BoundedChannelOptions(16_384) { SingleReader = true });
    private readonly CancellationTokenSource _stop = new();
    private readonly NpgsqlDataSource _database;
    private readonly Counter _appended;
    private readonly Counter _failed;
    private readonly Task _writer;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<(string Tenant, string Home), long> _pending = new();
    private volatile bool _ready;
    private volatile bool _unavailable;
    private double _oldestAgeSeconds;

    public SurvivalJournal(IOptions<RegionNodeOptions> options, Metrics metrics, ILogger<SurvivalJournal> logger)
    {
        _options = options.Value;
        _logger = logger;
        _database = NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(_options.PostgresConnectionString) { Database = _options.JournalDatabase }.ConnectionString);
        _appended = metrics.Counter("geo_survival_journal_appended_total", "Accounting requests committed to the survivability journal (acknowledged for an unreachable owner)");
        _failed = metrics.Counter("geo_survival_journal_failed_total", "Accounting requests the survivability journal could not commit (left unanswered; the NAS retransmits)");
        metrics.Gauge("geo_survival_journal_depth", "Accounting requests in the survivability journal not yet handed to their shard's owner", () => Depth);
        metrics.Gauge("geo_survival_journal_oldest_age_seconds", "Age of the oldest entry in the survivability journal (0 when empty)", () => OldestAgeSeconds);
        _writer = Task.Run(WriteAsync);
    }

    /// <summary>Whether the journal's database is ready (created, reachable at its last use).</summary>
    public bool Ready => _ready;

    /// <summary>Age of the oldest entry when last looked at (seconds; 0 when empty).</summary>
    public double OldestAgeSeconds
    {
        get => Volatile.Read(ref _oldestAgeSeconds);
        set => Volatile.Write(ref _oldestAgeSeconds, value);
    }

    /// <summary>Requests in the journal.</summary>
    public long Depth => _pending.Values.Sum();

    /// <summary>Whether the journal holds requests of shard <paramref name="tenant"/>@<paramref name="home"/> not yet handed to its owner.</summary>
    public bool Holds(string tenant, string home) => _pending.TryGetValue((tenant, home), out var count) && count > 0;

    /// <summary>
    /// Commits <paramref name="request"/> (an Accounting-Request for shard <paramref name="tenant"/>@<paramref name="home"/>)
    /// to the journal; true once it is durable, false when it could not be (then it is not to be acknowledged).
    /// </summary>
    public async ValueTask<bool> AppendAsync(RadiusRequest request, string tenant, string home, string username, string acctSessionId, uint statusType, DateTimeOffset eventTime)
    {
        var entry = new Entry(tenant, home, request.Nas.Address, username, acctSessionId, (int)statusType, Stamp(request, eventTime));
        var pending = new Pending(entry, new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously));
        if (!_queue.Writer.TryWrite(pending))
        {
            _failed.Increment();
            return false;
        }

        return await pending.Done.Task;
    }

    /// <summary>
    /// The sessions the journal holds of a subscriber: those started here and those stopped here. With the replica's
    /// open sessions they give the subscriber's open sessions during an outage (Simultaneous-Use).
    /// </summary>
    public async Task<(HashSet<string> Started, HashSet<string> Stopped)> SessionsAsync(string tenant, string home, string username, CancellationToken cancellationToken)
    {
        var started = new HashSet<string>(StringComparer.Ordinal);
        var stopped = new HashSet<string>(StringComparer.Ordinal);
        if (!_ready)
        {
            return (started, stopped);
        }

        await using var command = _database.CreateCommand(
            "SELECT acct_session_id, status_type FROM survival_journal WHERE tenant_id = $1 AND home_region = $2 AND username = $3 AND status_type IN (1, 2)");
        command.Parameters.Add(new() { Value = tenant });
        command.Parameters.Add(new() { Value = home });
        command.Parameters.Add(new() { Value = username });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            (reader.GetInt32(1) == (int)AcctStatusType.Stop ? stopped : started).Add(reader.GetString(0));
        }

        return (started, stopped);
    }

    /// <summary>The oldest entries, in the order they were acknowledged.</summary>
    public async Task<IReadOnlyList<StoredEntry>> OldestAsync(int limit, CancellationToken cancellationToken)
    {
        await using var command = _database.CreateCommand(
            "SELECT id, tenant_id, home_region, acct_session_id, nas_address, packet, received_at, status_type FROM survival_journal ORDER BY id LIMIT $1");
        command.Parameters.Add(new() { Value = limit });
        var entries = new List<StoredEntry>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            entries.Add(new StoredEntry(reader.GetInt64(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetFieldValue<IPAddress>(4),
                (byte[])reader[5], reader.GetFieldValue<DateTimeOffset>(6), reader.GetInt32(7)));
        }

        return entries;
    }

    /// <summary>Removes entries their shard's owner has acknowledged.</summary>
    public async Task RemoveAsync(IReadOnlyCollection<StoredEntry> entries, CancellationToken cancellationToken)
    {
        if (entries.Count == 0)
        {
            return;
        }

        await using var command = _database.CreateCommand("DELETE FROM survival_journal WHERE id = ANY($1)");
        command.Parameters.Add(new() { Value = entries.Select(e => e.Id).ToArray() });
        await command.ExecuteNonQueryAsync(cancellationToken);
        foreach (var entry in entries)
        {
            _pending.AddOrUpdate((entry.Tenant, entry.Home), 0, (_, count) => Math.Max(0, count - 1));
        }
    }

    /// <summary>When the oldest entry was acknowledged; null when the journal is empty.</summary>
    public async Task<DateTimeOffset?> OldestAsync(CancellationToken cancellationToken)
    {
        await using var command = _database.CreateCommand("SELECT min(received_at) FROM survival_journal");
        return await command.ExecuteScalarAsync(cancellationToken) as DateTime? is { } oldest ? new DateTimeOffset(DateTime.SpecifyKind(oldest, DateTimeKind.Utc)) : null;
    }

    /// <summary>Counts each shard's entries (at start: what an earlier run of this node left).</summary>
    private async Task CountAsync(CancellationToken cancellationToken)
    {
        await using var command = _database.CreateCommand("SELECT tenant_id, home_region, count(*) FROM survival_journal GROUP BY 1, 2");
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            _pending[(reader.GetString(0), reader.GetString(1))] = reader.GetInt64(2);
        }
    }

    /// <summary>Creates the journal's database and table when missing; false (logged) while it cannot.</summary>
    public async Task<bool> EnsureAsync(CancellationToken cancellationToken)
    {
        if (_ready)
        {
            return true;
        }

        try
        {
            var admin = new NpgsqlConnectionStringBuilder(_options.PostgresConnectionString) { Pooling = false, Database = "postgres" };
            await using (var connection = new NpgsqlConnection(admin.ConnectionString))
            {
                await connection.OpenAsync(cancellationToken);
                await using var exists = new NpgsqlCommand("SELECT 1 FROM pg_database WHERE datname = $1", connection);
                exists.Parameters.Add(new() { Value = _options.JournalDatabase });
                if (await exists.ExecuteScalarAsync(cancellationToken) is null)
                {
                    await using var create = new NpgsqlCommand($"CREATE DATABASE \"{_options.JournalDatabase.Replace("\"", "\"\"", StringComparison.Ordinal)}\"", connection);
                    try
                    {
                        await create.ExecuteNonQueryAsync(cancellationToken);
                    }
                    catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.DuplicateDatabase)
                    {
                        // Another node of this region created it a moment ago.
                    }
                }
            }

            await using (var command = _database.CreateCommand("""
                CREATE TABLE IF NOT EXISTS survival_journal (
                    id              bigserial PRIMARY KEY,
                    tenant_id       text NOT NULL,
                    home_region     text NOT NULL,
                    nas_address     inet NOT NULL,
                    username        text NOT NULL,
                    acct_session_id text NOT NULL,
                    status_type     integer NOT NULL,
                    packet          bytea NOT NULL,
                    received_at     timestamptz NOT NULL DEFAULT now());
                CREATE INDEX IF NOT EXISTS survival_journal_subscriber ON survival_journal (tenant_id, home_region, username);
                """))
            {
                await command.ExecuteNonQueryAsync(cancellationToken);
            }

            await CountAsync(cancellationToken);
            _ready = true;
            _unavailable = false;
            LogReady(_logger, _options.JournalDatabase, Depth);
            return true;
        }
        catch (Exception ex) when (ex is NpgsqlException or IOException or TimeoutException)
        {
            // Said once per outage of the journal's database, not on every try.
            if (!_unavailable)
            {
                _unavailable = true;
                LogUnavailable(_logger, _options.JournalDatabase, ex);
            }

            return false;
        }
    }

    /// <summary>The packet as received, with when it happened as Event-Timestamp (Acct-Delay-Time folded in).</summary>
    private static byte[] Stamp(RadiusRequest request, DateTimeOffset eventTime)
    {
        var packet = request.Packet;
        var buffer = new byte[RadiusPacket.MaxLength];
        var writer = new RadiusPacketWriter(buffer, packet.Code, packet.Identifier);
        foreach (var attribute in packet.Attributes)
        {
            if (attribute.Type is not (RadiusAttributeType.EventTimestamp or RadiusAttributeType.AcctDelayTime or RadiusAttributeType.MessageAuthenticator))
            {
                writer.AddAttribute(attribute.Type, attribute.Value);
            }
        }

        writer.AddTime(RadiusAttributeType.EventTimestamp, eventTime);
        return buffer[..writer.FinishRequest(request.Secret)];
    }

    /// <summary>The group commit: whatever is waiting goes in one INSERT; a batch PostgreSQL refuses is tried again one by one.</summary>
    private async Task WriteAsync()
    {
        var batch = new List<Pending>(MaxBatch);
        try
        {
            while (await _queue.Reader.WaitToReadAsync(_stop.Token))
            {
                batch.Clear();
                while (batch.Count < MaxBatch && _queue.Reader.TryRead(out var pending))
                {
                    batch.Add(pending);
                }

                if (!await EnsureAsync(_stop.Token))
                {
                    Complete(batch, false);
                    continue;
                }

                if (await InsertAsync(batch))
                {
                    Complete(batch, true);
                    continue;
                }

                foreach (var one in batch)
                {
                    Complete([one], batch.Count > 1 && await InsertAsync([one]));
                }
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
        }

        while (_queue.Reader.TryRead(out var left))
        {
            Complete([left], false);
        }
    }

    private async Task<bool> InsertAsync(IReadOnlyList<Pending> batch)
    {
        try
        {
            await using var command = _database.CreateCommand("""
                INSERT INTO survival_journal (tenant_id, home_region, nas_address, username, acct_session_id, status_type, packet)
                SELECT * FROM unnest($1::text[], $2::text[], $3::inet[], $4::text[], $5::text[], $6::int[], $7::bytea[])
                """);
            command.Parameters.Add(new() { Value = batch.Select(p => p.Entry.Tenant).ToArray() });
            command.Parameters.Add(new() { Value = batch.Select(p => p.Entry.Home).ToArray() });
            command.Parameters.Add(new() { Value = batch.Select(p => p.Entry.Nas).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Inet });
            command.Parameters.Add(new() { Value = batch.Select(p => p.Entry.Username).ToArray() });
            command.Parameters.Add(new() { Value = batch.Select(p => p.Entry.AcctSessionId).ToArray() });
            command.Parameters.Add(new() { Value = batch.Select(p => p.Entry.StatusType).ToArray() });
            command.Parameters.Add(new() { Value = batch.Select(p => p.Entry.Packet).ToArray() });
            await command.ExecuteNonQueryAsync(_stop.Token);
            foreach (var pending in batch)
            {
                _pending.AddOrUpdate((pending.Entry.Tenant, pending.Entry.Home), 1, (_, count) => count + 1);
            }

            return true;
        }
        catch (Exception ex) when (ex is NpgsqlException or IOException or TimeoutException)
        {
            if (ex is not PostgresException)
            {
                // The database itself is gone: created again (or found again) before the next batch.
                _ready = false;
            }

            LogWriteFailed(_logger, batch.Count, ex);
            return false;
        }
    }

    private void Complete(IReadOnlyList<Pending> batch, bool committed)
    {
        foreach (var pending in batch)
        {
            (committed ? _appended : _failed).Increment();
            pending.Done.TrySetResult(committed);
        }
    }

    public async ValueTask DisposeAsync()
    {
        // What is queued is still committed (and then acknowledged) unless the database takes too long.
        _queue.Writer.TryComplete();
        if (await Task.WhenAny(_writer, Task.Delay(TimeSpan.FromSeconds(5))) != _writer)
        {
            await _stop.CancelAsync();
        }

        await _writer;
        await _database.DisposeAsync();
        _stop.Dispose();
    }

    /// <summary>An entry as stored.</summary>
    public sealed record StoredEntry(long Id, string Tenant, string Home, string AcctSessionId, IPAddress Nas, byte[] Packet, DateTimeOffset ReceivedAt, int StatusType)
    {
        /// <summary>An Accounting-On/Off: its NAS restarted, which ends every session of the NAS started before it.</summary>
        public bool IsNasRestart => StatusType is (int)AcctStatusType.AccountingOn or (int)AcctStatusType.AccountingOff;
    }

    private sealed record Entry(string Tenant, string Home, IPAddress Nas, string Username, string AcctSessionId, int StatusType, byte[] Packet);

    private sealed record Pending(Entry Entry, TaskCompletionSource<bool> Done);

    [LoggerMessage(EventId = 1410, Level = LogLevel.Information, Message = "Survivability journal ready in database {Database}: {Depth} entries waiting for their owner")]
    private static partial void LogReady(ILogger logger, string database, long depth);

    [LoggerMessage(EventId = 1411, Level = LogLevel.Error,
        Message = "Survivability journal database {Database} cannot be used; accounting for unreachable owners is left unanswered (the NAS retransmits)")]
    private static partial void LogUnavailable(ILogger logger, string database, Exception exception);

    [LoggerMessage(EventId = 1412, Level = LogLevel.Error, Message = "Could not commit {Count} accounting requests to the survivability journal; not acknowledged")]
    private static partial void LogWriteFailed(ILogger logger, int count, Exception exception);
}

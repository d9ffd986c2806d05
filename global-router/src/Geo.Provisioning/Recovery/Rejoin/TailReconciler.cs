using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Geo.Radius;
using Geo.Radius.Dictionary;
using Geo.Radius.Security;
using Geo.Schema;
using Npgsql;

namespace Geo.Provisioning.Recovery.Rejoin;

/// <summary>Where the owner region takes what is re-applied: its RADIUS accounting endpoint as a peer region does, and its tenant API.</summary>
/// <param name="Accounting">The owner region's RADIUS accounting endpoint.</param>
/// <param name="InterRegionSecret">The secret regions sign forwarded requests with: the owner takes the re-sent accounting as from a peer.</param>
/// <param name="Api">The owner region's tenant API.</param>
/// <param name="TenantApiKey">The tenant's API key (top-ups and adjustments are re-applied through the API); null when there is none to re-apply.</param>
public sealed record OwnerEndpoints(IPEndPoint Accounting, byte[] InterRegionSecret, Uri Api, string? TenantApiKey);

/// <summary>
/// Reconciles a lost owner's divergent tail into the shard's new owner, each kind by its own idempotent rule, so that running it
/// again changes nothing twice:
/// <list type="bullet">
/// <item>accounting the old owner committed is re-sent to the owner as accounting, signed as a peer region forwards it: the owner
/// commits it through its own accounting path, where cumulative counters make a request it already holds (the NAS sent it again
/// after the failover) add nothing, so its usage is charged exactly once;</item>
/// <item>top-ups and adjustments are re-applied through the owner's tenant API with their idempotency keys;</item>
/// <item>rows the tenant API writes (subscribers, plans, NAS devices, new balances and buckets, the CoA log) are compared with the
/// owner's: a row the owner did not change since the split takes the old owner's final version; one both changed keeps the newer
/// by <c>updated_at</c>, and is listed as a conflict;</item>
/// <item>sessions, balances, bucket usage and charges are not copied: re-applying the accounting and the ledger makes them.</item>
/// </list>
/// </summary>
/// <param name="oldOwner">The old owner's (frozen) database: the final version of every row of the tail.</param>
/// <param name="owner">The owner's database (the promoted standby's).</param>
/// <param name="tenant">The shard's tenant.</param>
/// <param name="home">The shard's home region.</param>
/// <param name="ownerEpoch">The epoch the owner holds: rows are written only while its fence is there.</param>
/// <param name="endpoints">Where the owner takes accounting and ledger entries.</param>
public sealed class TailReconciler(string oldOwner, string owner, string tenant, string home, long ownerEpoch, OwnerEndpoints endpoints)
{
    /// <summary>Sessions re-sent at once (each session's requests one after another, in commit order).</summary>
    private const int Concurrency = 16;

    private static readonly TimeSpan AnswerTimeout = TimeSpan.FromSeconds(3);

    public async Task ReconcileAsync(TailContents tail, RejoinReport report, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(tail);
        ArgumentNullException.ThrowIfNull(report);
        report.TailTransactions = tail.Transactions;
        report.TailEvents = tail.Events;
        report.TailFirstCommit = tail.FirstCommit;
        report.TailLastCommit = tail.LastCommit;
        foreach (var (table, count) in tail.Derived)
        {
            report.Derived[table] = count;
        }

        report.Unhandled.AddRange(tail.Unhandled);
        report.Unhandled.AddRange(tail.ClosedWithoutStop.Select(s => $"session {s} was closed by the old owner without a Stop (a NAS restart): not re-applied"));

        // Rows first: a subscriber created in the tail must be at the owner before its accounting and top-ups.
        await ReconcileRowsAsync(tail.Rows, report, cancellationToken);
        await ReapplyLedgerAsync(tail.Ledger, report, cancellationToken);
        await ReapplyAccountingAsync(tail.Accounting, report, cancellationToken);
    }

    private async Task ReconcileRowsAsync(List<TailRow> rows, RejoinReport report, CancellationToken cancellationToken)
    {
        if (rows.Count == 0)
        {
            return;
        }

        var subscribers = new List<(string Username, string? Status, string? OwnerStatus)>();
        await using var old = await PlatformDatabases.OpenUnpooledAsync(oldOwner, cancellationToken);
        await using var current = await PlatformDatabases.OpenUnpooledAsync(owner, cancellationToken);
        foreach (var row in rows)
        {
            var table = $"public.{ShardDatabase.Quote(row.Table)}";
            var keys = KeyColumns(row);
            var final = row.CreatedJson is { } created ? JsonDocument.Parse(created).RootElement.Clone() : await ReadRowAsync(old, null, table, keys, row.KeyJson, cancellationToken);
            await using var transaction = await current.BeginTransactionAsync(cancellationToken);
            await RequireFenceAsync(current, transaction, cancellationToken);
            var present = await ReadRowAsync(current, transaction, table, keys, row.KeyJson, cancellationToken, forUpdate: true);
            var oldUpdated = UpdatedAt(final);
            var ownerUpdated = UpdatedAt(present);
            // A derived row the owner has (a run before this one copied it) is the owner's to move: nothing to compare.
            if (final is null && present is null)
            {
                report.RowsAlreadySame++;
                await transaction.RollbackAsync(cancellationToken);
                continue;
            }

            if (final is not null && present is not null && (row.CreatedJson is not null || SameButEditTime(final.Value, present.Value)))
            {
                report.RowsAlreadySame++;
                await transaction.RollbackAsync(cancellationToken);
                continue;
            }

            // Changed at the owner since the split as well: both sides edited it. Without an edit time the owner's is kept.
            var ownerEdited = present is not null && (ownerUpdated is null || report.SplitAt is not { } split || ownerUpdated > split);
            var oldWins = !ownerEdited || (oldUpdated is { } o && ownerUpdated is { } w && o > w);
            if (!oldWins)
            {
                report.RowConflicts.Add(new RowConflict(row.Table, row.Key, "owner's", ownerUpdated is null ? "the owner's row is kept: no edit time to compare" : "both changed it: the newer wins", oldUpdated, ownerUpdated));
                await transaction.RollbackAsync(cancellationToken);
                continue;
            }

            try
            {
                await using (var savepoint = new NpgsqlCommand("SAVEPOINT row_write", current, transaction))
                {
                    await savepoint.ExecuteNonQueryAsync(cancellationToken);
                }

                if (final is null)
                {
                    await ExecuteAsync(current, transaction, $"DELETE FROM {table} x WHERE {KeyMatch(keys, table)}", row.KeyJson, cancellationToken);
                    report.RowsDeleted++;
                }
                else if (present is null)
                {
                    await ExecuteAsync(current, transaction, $"INSERT INTO {table} SELECT * FROM jsonb_populate_record(NULL::{table}, $1::jsonb)", final.Value.GetRawText(), cancellationToken);
                    report.RowsInserted++;
                }
                else
                {
                    // A subscriber's status is set through the owner's API afterwards (it ends the sessions of a suspended one).
                    var columns = string.Join(", ", final.Value.EnumerateObject().Where(p => row.Table != "subscribers" || p.Name != "status").Select(p => ShardDatabase.Quote(p.Name)));
                    await ExecuteAsync(current, transaction,
                        $"UPDATE {table} x SET ({columns}) = (SELECT {columns} FROM jsonb_populate_record(NULL::{table}, $1::jsonb)) WHERE {KeyMatch(keys, table)}",
                        final.Value.GetRawText(), cancellationToken);
                    report.RowsUpdated++;
                }

                if (ownerEdited)
                {
                    report.RowConflicts.Add(new RowConflict(row.Table, row.Key, "old owner's", "both changed it: the newer wins", oldUpdated, ownerUpdated));
                }

                await transaction.CommitAsync(cancellationToken);
                if (row.Table == "subscribers" && (final ?? present) is { } subscriber)
                {
                    subscribers.Add((subscriber.GetProperty("username").GetString()!, final is null ? "deleted" : Text(final.Value, "status"), present is null ? null : Text(present.Value, "status")));
                }
            }
            catch (PostgresException ex) when (ex.SqlState.StartsWith("23", StringComparison.Ordinal))
            {
                // An integrity rule of the owner refuses it (the name taken by another row, a row still referenced): the owner's stays.
                await transaction.RollbackAsync(cancellationToken);
                report.RowConflicts.Add(new RowConflict(row.Table, row.Key, "owner's", $"the owner refused the old owner's version: {ex.MessageText}", oldUpdated, ownerUpdated));
            }
        }

        await RefreshSubscribersAsync(subscribers, report, cancellationToken);
    }

    /// <summary>
    /// The owner's nodes cache subscribers' profiles: each subscriber changed here is touched through the owner's API, which drops
    /// its cached profile in the region. A status that changed is set there too, as the API sets it (a suspended or deleted
    /// subscriber's sessions are ended); any other change is an empty update.
    /// </summary>
    private async Task RefreshSubscribersAsync(List<(string Username, string? Status, string? OwnerStatus)> subscribers, RejoinReport report, CancellationToken cancellationToken)
    {
        if (subscribers.Count == 0)
        {
            return;
        }

        if (endpoints.TenantApiKey is null)
        {
            report.RowsNotRefreshed.AddRange(subscribers.Select(s => $"{s.Username}: no API key of tenant {tenant}; its cached profile at the owner lasts until it expires"));
            return;
        }

        using var http = TenantApi();
        foreach (var (username, status, ownerStatus) in subscribers)
        {
            var path = $"/tenants/{Uri.EscapeDataString(tenant)}/subscribers/{Uri.EscapeDataString(username)}";
            using var request = status == ownerStatus || ownerStatus is null || status is null
                ? new HttpRequestMessage(HttpMethod.Patch, path) { Content = JsonContent.Create(new { }) }
                : status switch
                {
                    "deleted" => new HttpRequestMessage(HttpMethod.Delete, path),
                    "suspended" => new HttpRequestMessage(HttpMethod.Post, path + "/suspend"),
                    _ => new HttpRequestMessage(HttpMethod.Post, path + "/resume"),
                };
            try
            {
                using var response = await http.SendAsync(request, cancellationToken);
                if (response.StatusCode == HttpStatusCode.NotFound)
                {
                    // Deleted at the owner: its API neither shows nor changes it, and nothing of it is cached there.
                    report.RowConflicts.Add(new RowConflict("subscribers", $"username={username}", "owner's", "deleted at the owner: its status there stays", null, null));
                }
                else if (!response.IsSuccessStatusCode)
                {
                    report.RowsNotRefreshed.Add($"{username}: the owner's API answered {(int)response.StatusCode} to {request.Method} {request.RequestUri}");
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
            {
                report.RowsNotRefreshed.Add($"{username}: the owner's API did not answer ({ex.Message})");
            }
        }
    }

    private HttpClient TenantApi()
    {
        var http = new HttpClient { BaseAddress = endpoints.Api, Timeout = TimeSpan.FromSeconds(10) };
        http.DefaultRequestHeaders.Authorization = new("Bearer", endpoints.TenantApiKey);
        return http;
    }

    /// <summary>Equal but for <c>updated_at</c>: an edit that changed nothing else (or the same edit on both sides) is no conflict.</summary>
    private static bool SameButEditTime(JsonElement a, JsonElement b) =>
        a.EnumerateObject().Count() == b.EnumerateObject().Count() &&
        a.EnumerateObject().All(p => p.Name == "updated_at" || (b.TryGetProperty(p.Name, out var other) && JsonElement.DeepEquals(p.Value, other)));

    private static string? Text(JsonElement row, string column) => row.TryGetProperty(column, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private async Task ReapplyLedgerAsync(List<TailLedgerEntry> entries, RejoinReport report, CancellationToken cancellationToken)
    {
        if (entries.Count == 0)
        {
            return;
        }

        if (endpoints.TenantApiKey is null)
        {
            report.LedgerNotReapplied.AddRange(entries.Select(e => $"{e.Kind} {e.IdempotencyKey}: no API key of tenant {tenant} to re-apply it with"));
            return;
        }

        var usernames = await UsernamesAsync(entries.Select(e => e.SubscriberId), cancellationToken);
        using var http = TenantApi();
        foreach (var entry in entries)
        {
            var username = usernames.GetValueOrDefault(entry.SubscriberId) ?? entry.SubscriberId.ToString();
            using var request = new HttpRequestMessage(HttpMethod.Post,
                $"/tenants/{Uri.EscapeDataString(tenant)}/subscribers/{Uri.EscapeDataString(username)}/{(entry.Kind == "topup" ? "topups" : "adjustments")}")
            {
                Content = JsonContent.Create(new { amountMicros = entry.AmountMicros, reason = entry.Reason }),
            };
            request.Headers.Add("Idempotency-Key", entry.IdempotencyKey);
            HttpResponseMessage response;
            try
            {
                response = await http.SendAsync(request, cancellationToken);
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
            {
                report.LedgerNotReapplied.Add($"{entry.Kind} {entry.IdempotencyKey} of {username}: the owner's API did not answer ({ex.Message})");
                continue;
            }

            using (response)
            {
                var status = (int)response.StatusCode;
                if (status == 201)
                {
                    report.LedgerApplied++;
                }
                else if (status == 200)
                {
                    report.LedgerAlreadyPresent++;
                }
                else if (status is 404 or 409 or 422)
                {
                    var body = await response.Content.ReadAsStringAsync(cancellationToken);
                    report.LedgerConflicts.Add(new LedgerConflict(entry.IdempotencyKey, username, entry.Kind, entry.AmountMicros, status, ProblemTitle(body)));
                }
                else
                {
                    report.LedgerNotReapplied.Add($"{entry.Kind} {entry.IdempotencyKey} of {username}: the owner's API answered {status}");
                }
            }
        }
    }

    private async Task ReapplyAccountingAsync(List<TailAccounting> accounting, RejoinReport report, CancellationToken cancellationToken)
    {
        if (accounting.Count == 0)
        {
            return;
        }

        var sessions = await SessionsAsync(accounting.Select(a => a.SessionId), cancellationToken);
        var (recordsBefore, chargedBefore) = await OwnerUsageAsync(sessions.Values.Select(s => (s.NasId, s.AcctSessionId)), cancellationToken);
        var answered = 0;
        var missing = new ConcurrentBag<string>();
        using var client = new RadiusClient(IPAddress.Any);
        var bySession = accounting.GroupBy(a => a.SessionId).ToList();
        await Parallel.ForEachAsync(bySession, new ParallelOptions { MaxDegreeOfParallelism = Concurrency, CancellationToken = cancellationToken }, async (group, token) =>
        {
            if (!sessions.TryGetValue(group.Key, out var session))
            {
                missing.Add($"session {group.Key}: not in the old owner's database ({group.Count()} request(s) not re-applied)");
                return;
            }

            foreach (var request in group.OrderBy(a => a.Order))
            {
                var exchanged = await client.ExchangeAsync(identifier => Packet(request, session, identifier), endpoints.Accounting, AnswerTimeout, attempts: 3,
                    (sent, reply) => reply[0] == (byte)RadiusCode.AccountingResponse && RadiusAuthenticator.VerifyResponseAuthenticator(reply, sent.AsSpan(4, 16), endpoints.InterRegionSecret),
                    token);
                if (exchanged is null)
                {
                    // The rest of the session waits: the owner must get a session's accounting in order.
                    missing.Add($"{request.Kind} of session {session.AcctSessionId} (NAS {session.NasId}, {request.EventTime:O}) and what follows it: the owner did not answer");
                    return;
                }

                Interlocked.Increment(ref answered);
            }
        });

        var (recordsAfter, chargedAfter) = await OwnerUsageAsync(sessions.Values.Select(s => (s.NasId, s.AcctSessionId)), cancellationToken);
        report.AccountingReapplied = answered;
        report.AccountingSessions = bySession.Count;
        report.AccountingNewRecords = recordsAfter - recordsBefore;
        report.AccountingChargedMicros = chargedAfter - chargedBefore;
        report.AccountingNotReapplied.AddRange(missing.Order(StringComparer.Ordinal));
    }

    /// <summary>The accounting request as the NAS sent it, named by NAS-IP-Address and signed as a peer region forwards it.</summary>
    private byte[] Packet(TailAccounting request, OldSession session, byte identifier)
    {
        var buffer = new byte[RadiusPacket.MaxLength];
        var writer = new RadiusPacketWriter(buffer, RadiusCode.AccountingRequest, identifier);
        writer.AddString(RadiusAttributeType.UserName, session.Username);
        writer.AddUInt32(RadiusAttributeType.AcctStatusType, (uint)(request.Kind switch { "start" => AcctStatusType.Start, "stop" => AcctStatusType.Stop, _ => AcctStatusType.InterimUpdate }));
        writer.AddString(RadiusAttributeType.AcctSessionId, session.AcctSessionId);
        writer.AddUInt32(RadiusAttributeType.AcctInputOctets, (uint)(request.InputOctets & uint.MaxValue));
        writer.AddUInt32(RadiusAttributeType.AcctOutputOctets, (uint)(request.OutputOctets & uint.MaxValue));
        if (request.InputOctets >> 32 != 0)
        {
            writer.AddUInt32(RadiusAttributeType.AcctInputGigawords, (uint)(request.InputOctets >> 32));
        }

        if (request.OutputOctets >> 32 != 0)
        {
            writer.AddUInt32(RadiusAttributeType.AcctOutputGigawords, (uint)(request.OutputOctets >> 32));
        }

        writer.AddUInt32(RadiusAttributeType.AcctInputPackets, Clamp(request.InputPackets ?? session.InputPackets));
        writer.AddUInt32(RadiusAttributeType.AcctOutputPackets, Clamp(request.OutputPackets ?? session.OutputPackets));
        writer.AddUInt32(RadiusAttributeType.AcctSessionTime, Clamp(request.SessionTime));
        writer.AddTime(RadiusAttributeType.EventTimestamp, request.EventTime);
        if (session.NasPort is { Length: > 0 } port)
        {
            writer.AddString(RadiusAttributeType.NasPortId, port);
        }

        if (session.CallingStationId is { Length: > 0 } calling)
        {
            writer.AddString(RadiusAttributeType.CallingStationId, calling);
        }

        if (session.FramedIp is { AddressFamily: System.Net.Sockets.AddressFamily.InterNetwork } framed)
        {
            writer.AddIPv4Address(RadiusAttributeType.FramedIpAddress, framed);
        }

        if (request.Kind == "stop" && Enum.TryParse<AcctTerminateCause>(session.TerminateCause, out var cause))
        {
            writer.AddUInt32(RadiusAttributeType.AcctTerminateCause, (uint)cause);
        }

        if (request.SubscriberId is { } subscriber)
        {
            // The Class of the session's Access-Accept: the owner finds the shard and the subscriber without a lookup.
            writer.AddString(RadiusAttributeType.Class, $"geo:{tenant}:{home}:{subscriber:N}");
        }

        writer.AddIPv4Address(RadiusAttributeType.NasIpAddress, session.NasAddress);
        return buffer[..writer.FinishRequest(endpoints.InterRegionSecret)];
    }

    private static uint Clamp(long value) => (uint)Math.Clamp(value, 0, uint.MaxValue);

    /// <summary>A session of the old owner as its accounting is re-sent: who, where, and its final row's values.</summary>
    private sealed record OldSession(string NasId, string AcctSessionId, string Username, IPAddress NasAddress, string? NasPort, string? CallingStationId, IPAddress? FramedIp,
        string? TerminateCause, long InputPackets, long OutputPackets);

    private async Task<Dictionary<Guid, OldSession>> SessionsAsync(IEnumerable<Guid> ids, CancellationToken cancellationToken)
    {
        await using var connection = await PlatformDatabases.OpenUnpooledAsync(oldOwner, cancellationToken);
        await using var command = new NpgsqlCommand("""
            SELECT s.id, s.nas_id, s.acct_session_id, s.username, host(n.address), s.nas_port, s.calling_station_id, host(s.framed_ip), s.terminate_cause, s.input_packets, s.output_packets
            FROM sessions s JOIN nas_devices n ON n.id = s.nas_id WHERE s.id = ANY($1)
            """, connection);
        command.Parameters.Add(new NpgsqlParameter<Guid[]> { TypedValue = [.. ids.Distinct()] });
        var sessions = new Dictionary<Guid, OldSession>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            sessions[reader.GetGuid(0)] = new OldSession(reader.GetString(1), reader.GetString(2), reader.GetString(3), IPAddress.Parse(reader.GetString(4)),
                reader.IsDBNull(5) ? null : reader.GetString(5), reader.IsDBNull(6) ? null : reader.GetString(6), reader.IsDBNull(7) ? null : IPAddress.Parse(reader.GetString(7)),
                reader.IsDBNull(8) ? null : reader.GetString(8), reader.GetInt64(9), reader.GetInt64(10));
        }

        return sessions;
    }

    /// <summary>The owner's usage records of these sessions and what they charged: how much the re-sent accounting added.</summary>
    private async Task<(long Records, long ChargedMicros)> OwnerUsageAsync(IEnumerable<(string NasId, string AcctSessionId)> sessions, CancellationToken cancellationToken)
    {
        var list = sessions.ToList();
        await using var connection = await PlatformDatabases.OpenUnpooledAsync(owner, cancellationToken);
        await using var command = new NpgsqlCommand("""
            SELECT count(c.id), coalesce(sum(c.charged_micros), 0)::bigint
            FROM unnest($1::text[], $2::text[]) k(nas_id, acct_session_id)
            JOIN sessions s ON s.nas_id = k.nas_id AND s.acct_session_id = k.acct_session_id
            JOIN cdrs c ON c.session_id = s.id
            """, connection);
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. list.Select(s => s.NasId)] });
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. list.Select(s => s.AcctSessionId)] });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return (reader.GetInt64(0), reader.GetInt64(1));
    }

    private async Task<Dictionary<Guid, string>> UsernamesAsync(IEnumerable<Guid> ids, CancellationToken cancellationToken)
    {
        await using var connection = await PlatformDatabases.OpenUnpooledAsync(oldOwner, cancellationToken);
        await using var command = new NpgsqlCommand("SELECT id, username FROM subscribers WHERE id = ANY($1)", connection);
        command.Parameters.Add(new NpgsqlParameter<Guid[]> { TypedValue = [.. ids.Distinct()] });
        var names = new Dictionary<Guid, string>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            names[reader.GetGuid(0)] = reader.GetString(1);
        }

        return names;
    }

    /// <summary>The owner's fence must still be at the epoch it was promoted to: nothing is written into a database that moved on.</summary>
    private async Task RequireFenceAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, CancellationToken cancellationToken)
    {
        await using var fence = new NpgsqlCommand("SELECT epoch FROM shard_fence FOR SHARE", connection, transaction);
        if (await fence.ExecuteScalarAsync(cancellationToken) is not long epoch || epoch != ownerEpoch)
        {
            throw new PromotionFailedException($"the owner's database is no longer fenced at epoch {ownerEpoch}: the shard moved meanwhile; nothing more is written");
        }
    }

    private static List<string> KeyColumns(TailRow row)
    {
        using var key = JsonDocument.Parse(row.KeyJson);
        return [.. key.RootElement.EnumerateObject().Select(p => p.Name)];
    }

    private static string KeyMatch(IReadOnlyList<string> keys, string table)
    {
        var columns = string.Join(", ", keys.Select(ShardDatabase.Quote));
        return $"({string.Join(", ", keys.Select(k => "x." + ShardDatabase.Quote(k)))}) = (SELECT {columns} FROM jsonb_populate_record(NULL::{table}, $1::jsonb))";
    }

    private static async Task<JsonElement?> ReadRowAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, string table, IReadOnlyList<string> keys, string keyJson,
        CancellationToken cancellationToken, bool forUpdate = false)
    {
        await using var read = new NpgsqlCommand($"SELECT to_jsonb(x)::text FROM {table} x WHERE {KeyMatch(keys, table)}{(forUpdate ? " FOR UPDATE" : "")}", connection, transaction);
        read.Parameters.Add(new NpgsqlParameter<string> { TypedValue = keyJson });
        return await read.ExecuteScalarAsync(cancellationToken) is string json ? JsonDocument.Parse(json).RootElement.Clone() : null;
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string sql, string json, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection, transaction);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = json });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static DateTimeOffset? UpdatedAt(JsonElement? row) =>
        row is { } value && value.TryGetProperty("updated_at", out var at) && at.ValueKind == JsonValueKind.String
            ? DateTimeOffset.Parse(at.GetString()!, CultureInfo.InvariantCulture) : null;

    private static string ProblemTitle(string body)
    {
        try
        {
            using var problem = JsonDocument.Parse(body);
            return problem.RootElement.TryGetProperty("detail", out var detail) ? detail.GetString() ?? body
                : problem.RootElement.TryGetProperty("title", out var title) ? title.GetString() ?? body : body;
        }
        catch (JsonException)
        {
            return body;
        }
    }
}

using System.Net;
using System.Text;
using Dapper;
using Geo.RegionNode.Caching;
using Geo.RegionNode.ChangeOfAuthorization;
using Geo.RegionNode.Shards;
using Geo.Schema.Secrets;
using Npgsql;

namespace Geo.RegionNode.Api;

/// <summary>Subscribers: create, read, update, suspend, resume, delete, list; their sessions and CDRs.</summary>
internal static class SubscriberEndpoints
{
    private const string Columns = "id, username, plan_id, status, valid_until, framed_ip, created_at, updated_at";

    public static void Map(RouteGroupBuilder tenant)
    {
        tenant.MapGet("/subscribers", ListAsync).WithName("ListSubscribers");
        tenant.MapPost("/subscribers", CreateAsync).WithName("CreateSubscriber");
        tenant.MapGet("/subscribers/{username}", GetAsync).WithName("GetSubscriber");
        tenant.MapPatch("/subscribers/{username}", UpdateAsync).WithName("UpdateSubscriber");
        tenant.MapDelete("/subscribers/{username}", (HttpContext http, string tenant, string username, ShardAccess access, IRegionCache cache, ExhaustionDispatcher dispatcher, CancellationToken ct) =>
            SetStatusAsync(http, tenant, username, "deleted", access, cache, dispatcher, ct)).WithName("DeleteSubscriber");
        tenant.MapPost("/subscribers/{username}/suspend", (HttpContext http, string tenant, string username, ShardAccess access, IRegionCache cache, ExhaustionDispatcher dispatcher, CancellationToken ct) =>
            SetStatusAsync(http, tenant, username, "suspended", access, cache, dispatcher, ct)).WithName("SuspendSubscriber");
        tenant.MapPost("/subscribers/{username}/resume", (HttpContext http, string tenant, string username, ShardAccess access, IRegionCache cache, ExhaustionDispatcher dispatcher, CancellationToken ct) =>
            SetStatusAsync(http, tenant, username, "active", access, cache, dispatcher, ct)).WithName("ResumeSubscriber");
        tenant.MapGet("/subscribers/{username}/sessions", SessionsAsync).WithName("ListSubscriberSessions");
        tenant.MapGet("/subscribers/{username}/cdrs", CdrsAsync).WithName("ListSubscriberCdrs");
    }

    private static async Task<IResult> ListAsync(string tenant, string? cursor, int? limit, ShardCatalog catalog, CancellationToken cancellationToken)
    {
        var after = Cursor.Decode(cursor);
        if (!string.IsNullOrEmpty(cursor) && after is null)
        {
            return Results.ValidationProblem(new Dictionary<string, string[]> { ["cursor"] = ["not a cursor from this API"] });
        }

        var size = Math.Clamp(limit ?? 100, 1, 1000);
        var items = new List<SubscriberResponse>();
        foreach (var shard in catalog.ShardsOf(tenant))
        {
            await using var connection = await shard.DataSource.OpenConnectionAsync(cancellationToken);
            await using var command = new NpgsqlCommand(
                $"SELECT {Columns} FROM subscribers WHERE status <> 'deleted' AND username > $1 ORDER BY username LIMIT $2", connection);
            command.Parameters.Add(new() { Value = after ?? "" });
            command.Parameters.Add(new() { Value = size });
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                items.Add(Read(reader, shard.HomeRegion));
            }
        }

        var page = items.OrderBy(s => s.Username, StringComparer.Ordinal).Take(size).ToList();
        return Results.Ok(new Page<SubscriberResponse>(page, page.Count == size ? Cursor.Encode(page[^1].Username) : null));
    }

    private static async Task<IResult> CreateAsync(HttpContext http, string tenant, CreateSubscriberRequest body, ShardAccess access, SubscriberLocator locator,
        ShardCatalog catalog, SecretBox secrets, CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        Validation.Require(errors, "username", body.Username is { Length: >= 1 and <= 253 } u && !u.Any(char.IsControl), "1 to 253 characters, no control characters");
        Validation.Require(errors, "password", body.Password is { } p && Encoding.UTF8.GetByteCount(p) is >= 1 and <= 128, "1 to 128 bytes (RADIUS carries at most 128)");
        Validation.Require(errors, "planId", !string.IsNullOrEmpty(body.PlanId), "required");
        Validation.Require(errors, "framedIp", Validation.IsAddress(body.FramedIp), "an IPv4 address");
        if (errors.Count > 0)
        {
            return Results.ValidationProblem(errors);
        }

        var home = body.Region;
        if (home is null && body.NasId is not null)
        {
            home = await locator.NasPrimaryRegionAsync(tenant, body.NasId, cancellationToken);
            if (home is null)
            {
                return Results.ValidationProblem(new Dictionary<string, string[]> { ["nasId"] = [$"no NAS '{body.NasId}' in this tenant"] });
            }
        }

        home ??= access.RegionId;
        var (shard, error) = access.ForHome(http, tenant, home);
        if (shard is null)
        {
            return error!;
        }

        if (!shard.Plans.ContainsKey(body.PlanId!))
        {
            return Results.ValidationProblem(new Dictionary<string, string[]> { ["planId"] = [$"no plan '{body.PlanId}'"] });
        }

        // The placement first: a lookup of this username must never point nowhere.
        var placed = await locator.PlaceAsync(tenant, body.Username!, home, cancellationToken);
        if (placed != home)
        {
            return Results.Problem(statusCode: 409, title: "Subscriber exists", detail: $"'{body.Username}' is already placed in region {placed}.");
        }

        var id = Guid.CreateVersion7();
        var created = await ShardAccess.WriteAsync(shard, async (connection, transaction) =>
        {
            await using var insert = new NpgsqlCommand($"""
                WITH s AS (
                    INSERT INTO subscribers (id, username, password_enc, plan_id, valid_until, framed_ip) VALUES ($1, $2, $3, $4, $5, $6::inet)
                    ON CONFLICT (username) DO NOTHING RETURNING {Columns}),
                b AS (INSERT INTO balances (subscriber_id) SELECT id FROM s)
                SELECT {Columns} FROM s
                """, connection, transaction);
            insert.Parameters.Add(new() { Value = id });
            insert.Parameters.Add(new() { Value = body.Username! });
            insert.Parameters.Add(new() { Value = secrets.Seal(body.Password!, SecretContext.SubscriberPassword(id)) });
            insert.Parameters.Add(new() { Value = body.PlanId! });
            insert.Parameters.Add(new() { Value = (object?)body.ValidUntil ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.TimestampTz });
            insert.Parameters.Add(new() { Value = (object?)body.FramedIp ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
            await using var reader = await insert.ExecuteReaderAsync(cancellationToken);
            return await reader.ReadAsync(cancellationToken) ? Read(reader, home) : null;
        }, cancellationToken);

        return created is null
            ? Results.Problem(statusCode: 409, title: "Subscriber exists", detail: $"'{body.Username}' already exists.")
            : Results.Created($"/tenants/{tenant}/subscribers/{Uri.EscapeDataString(created.Username)}", created);
    }

    private static async Task<IResult> GetAsync(HttpContext http, string tenant, string username, ShardAccess access, CancellationToken cancellationToken)
    {
        var (shard, error) = await access.ForSubscriberAsync(http, tenant, username, cancellationToken);
        if (shard is null)
        {
            return error!;
        }

        await using var connection = await shard.DataSource.OpenConnectionAsync(cancellationToken);
        await using var command = new NpgsqlCommand($"SELECT {Columns} FROM subscribers WHERE username = $1 AND status <> 'deleted'", connection);
        command.Parameters.Add(new() { Value = username });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? Results.Ok(Read(reader, shard.HomeRegion)) : NotFound();
    }

    private static async Task<IResult> UpdateAsync(HttpContext http, string tenant, string username, UpdateSubscriberRequest body, ShardAccess access,
        IRegionCache cache, SecretBox secrets, CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        Validation.Require(errors, "password", body.Password is null || Encoding.UTF8.GetByteCount(body.Password) is >= 1 and <= 128, "1 to 128 bytes");
        Validation.Require(errors, "framedIp", Validation.IsAddress(body.FramedIp), "an IPv4 address");
        if (errors.Count > 0)
        {
            return Results.ValidationProblem(errors);
        }

        var (shard, error) = await access.ForSubscriberAsync(http, tenant, username, cancellationToken);
        if (shard is null)
        {
            return error!;
        }

        if (body.PlanId is not null && !shard.Plans.ContainsKey(body.PlanId))
        {
            return Results.ValidationProblem(new Dictionary<string, string[]> { ["planId"] = [$"no plan '{body.PlanId}'"] });
        }

        var updated = await ShardAccess.WriteAsync(shard, async (connection, transaction) =>
        {
            Guid id;
            await using (var find = new NpgsqlCommand("SELECT id FROM subscribers WHERE username = $1 AND status <> 'deleted' FOR UPDATE", connection, transaction))
            {
                find.Parameters.Add(new() { Value = username });
                if (await find.ExecuteScalarAsync(cancellationToken) is not Guid found)
                {
                    return null;
                }

                id = found;
            }

            await using var update = new NpgsqlCommand($"""
                UPDATE subscribers SET password_enc = coalesce($2, password_enc), plan_id = coalesce($3, plan_id),
                    valid_until = coalesce($4, valid_until), framed_ip = coalesce($5::inet, framed_ip), updated_at = now()
                WHERE id = $1 RETURNING {Columns}
                """, connection, transaction);
            update.Parameters.Add(new() { Value = id });
            update.Parameters.Add(new() { Value = body.Password is null ? DBNull.Value : secrets.Seal(body.Password, SecretContext.SubscriberPassword(id)), NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Bytea });
            update.Parameters.Add(new() { Value = (object?)body.PlanId ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
            update.Parameters.Add(new() { Value = (object?)body.ValidUntil ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.TimestampTz });
            update.Parameters.Add(new() { Value = (object?)body.FramedIp ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
            await using var reader = await update.ExecuteReaderAsync(cancellationToken);
            return await reader.ReadAsync(cancellationToken) ? Read(reader, shard.HomeRegion) : null;
        }, cancellationToken);

        await cache.InvalidateProfileAsync(shard.DatabaseName, username);
        return updated is null ? NotFound() : Results.Ok(updated);
    }

    /// <summary>Suspend, resume or delete; suspending or deleting disconnects the subscriber's open sessions.</summary>
    private static async Task<IResult> SetStatusAsync(HttpContext http, string tenant, string username, string status, ShardAccess access, IRegionCache cache,
        ExhaustionDispatcher dispatcher, CancellationToken cancellationToken)
    {
        var (shard, error) = await access.ForSubscriberAsync(http, tenant, username, cancellationToken);
        if (shard is null)
        {
            return error!;
        }

        var disconnects = new List<(Guid Request, string Nas, string Session, IPAddress? FramedIp)>();
        var updated = await ShardAccess.WriteAsync(shard, async (connection, transaction) =>
        {
            await using var update = new NpgsqlCommand($"""
                UPDATE subscribers SET status = $2, updated_at = now() WHERE username = $1 AND status <> 'deleted' RETURNING {Columns}
                """, connection, transaction);
            update.Parameters.Add(new() { Value = username });
            update.Parameters.Add(new() { Value = status });
            SubscriberResponse? row;
            await using (var reader = await update.ExecuteReaderAsync(cancellationToken))
            {
                row = await reader.ReadAsync(cancellationToken) ? Read(reader, shard.HomeRegion) : null;
            }

            if (row is null || status == "active")
            {
                return row;
            }

            await using var sessions = new NpgsqlCommand("SELECT id, nas_id, acct_session_id, framed_ip FROM sessions WHERE subscriber_id = $1 AND state = 'open'", connection, transaction);
            sessions.Parameters.Add(new() { Value = row.Id });
            await using (var reader = await sessions.ExecuteReaderAsync(cancellationToken))
            {
                while (await reader.ReadAsync(cancellationToken))
                {
                    disconnects.Add((Guid.CreateVersion7(), reader.GetString(1), reader.GetString(2), reader.IsDBNull(3) ? null : reader.GetFieldValue<IPAddress>(3)));
                }
            }

            foreach (var (request, nas, _, _) in disconnects)
            {
                await using var record = new NpgsqlCommand(
                    "INSERT INTO change_requests (id, kind, reason, subscriber_id, nas_id) VALUES ($1, 'disconnect', $2, $3, $4)", connection, transaction);
                record.Parameters.Add(new() { Value = request });
                record.Parameters.Add(new() { Value = status });
                record.Parameters.Add(new() { Value = row.Id });
                record.Parameters.Add(new() { Value = nas });
                await record.ExecuteNonQueryAsync(cancellationToken);
            }

            return row;
        }, cancellationToken);

        await cache.InvalidateProfileAsync(shard.DatabaseName, username);
        foreach (var (request, nas, session, framedIp) in disconnects)
        {
            dispatcher.Disconnect(shard, request, nas, username, session, framedIp);
        }

        return updated is null ? NotFound() : status == "deleted" ? Results.NoContent() : Results.Ok(updated);
    }

    private static async Task<IResult> SessionsAsync(HttpContext http, string tenant, string username, ShardAccess access, CancellationToken cancellationToken)
    {
        var (shard, error) = await access.ForSubscriberAsync(http, tenant, username, cancellationToken);
        if (shard is null)
        {
            return error!;
        }

        await using var connection = await shard.DataSource.OpenConnectionAsync(cancellationToken);
        // host(): the address without its /32, as IPAddress.ToString() wrote it.
        var sessions = await connection.QueryAsync<SessionResponse>(new CommandDefinition("""
            SELECT id AS Id, nas_id AS NasId, acct_session_id AS AcctSessionId, host(framed_ip) AS FramedIp, started_at AS StartedAt,
                   last_update_at AS LastUpdateAt, input_octets AS InputOctets, output_octets AS OutputOctets, session_time_s AS SessionTimeSeconds
            FROM sessions WHERE username = @username AND state = 'open' ORDER BY started_at
            """, new { username }, cancellationToken: cancellationToken));
        return Results.Ok(sessions.AsList());
    }

    private static async Task<IResult> CdrsAsync(HttpContext http, string tenant, string username, DateTimeOffset? from, DateTimeOffset? to, string? cursor, int? limit,
        ShardAccess access, CancellationToken cancellationToken)
    {
        var (shard, error) = await access.ForSubscriberAsync(http, tenant, username, cancellationToken);
        if (shard is null)
        {
            return error!;
        }

        var after = Guid.Empty;
        if (cursor is not null && !Guid.TryParse(Cursor.Decode(cursor), out after))
        {
            return Results.ValidationProblem(new Dictionary<string, string[]> { ["cursor"] = ["not a cursor from this API"] });
        }

        var size = Math.Clamp(limit ?? 100, 1, 1000);
        await using var connection = await shard.DataSource.OpenConnectionAsync(cancellationToken);
        // CDR ids are UUIDv7: ordered by creation, so they page without gaps or repeats.
        var cdrs = (await connection.QueryAsync<CdrResponse>(new CommandDefinition("""
            SELECT c.id AS Id, c.session_id AS SessionId, c.kind AS Kind, c.event_time AS EventTime, c.input_octets AS InputOctets,
                   c.output_octets AS OutputOctets, c.session_time_s AS SessionTimeSeconds, c.delta_input_octets AS DeltaInputOctets,
                   c.delta_output_octets AS DeltaOutputOctets, c.delta_session_time_s AS DeltaSessionTimeSeconds, c.charged_micros AS ChargedMicros,
                   c.flags AS Flags
            FROM cdrs c JOIN subscribers s ON s.id = c.subscriber_id
            WHERE s.username = @username AND c.id > @after AND c.event_time >= @since AND c.event_time < @until
            ORDER BY c.id LIMIT @size
            """, new { username, after, since = from ?? DateTimeOffset.UnixEpoch, until = to ?? DateTimeOffset.MaxValue.AddDays(-1), size },
            cancellationToken: cancellationToken))).AsList();

        return Results.Ok(new Page<CdrResponse>(cdrs, cdrs.Count == size ? Cursor.Encode(cdrs[^1].Id.ToString()) : null));
    }

    internal static IResult NotFound() => Results.Problem(statusCode: 404, title: "Subscriber not found");

    private static SubscriberResponse Read(NpgsqlDataReader reader, string home) => new(
        reader.GetGuid(0), reader.GetString(1), reader.GetString(2), reader.GetString(3),
        reader.IsDBNull(4) ? null : reader.GetFieldValue<DateTimeOffset>(4),
        reader.IsDBNull(5) ? null : reader.GetFieldValue<IPAddress>(5).ToString(),
        home, reader.GetFieldValue<DateTimeOffset>(6), reader.GetFieldValue<DateTimeOffset>(7));
}

/// <summary>Opaque page cursors (base64url of the last key of the page).</summary>
internal static class Cursor
{
    public static string Encode(string key) => Convert.ToBase64String(Encoding.UTF8.GetBytes(key)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    /// <summary>The key a cursor holds; null when there is no cursor or it is not one this API wrote.</summary>
    public static string? Decode(string? cursor)
    {
        if (string.IsNullOrEmpty(cursor))
        {
            return null;
        }

        var base64 = cursor.Replace('-', '+').Replace('_', '/');
        base64 = base64.PadRight(base64.Length + ((4 - (base64.Length % 4)) % 4), '=');
        try
        {
            var key = Encoding.UTF8.GetString(Convert.FromBase64String(base64));
            return Validation.IsStorableText(key) ? key : null;
        }
        catch (FormatException)
        {
            return null;
        }
    }
}

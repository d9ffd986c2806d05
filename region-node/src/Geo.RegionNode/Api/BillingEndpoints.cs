using System.Security.Cryptography;
using System.Text;
using Dapper;
using Geo.RegionNode.Caching;
using Npgsql;

namespace Geo.RegionNode.Api;

/// <summary>
/// Balances and the append-only ledger. Top-ups and adjustments carry a client-supplied Idempotency-Key: a
/// repeat of the same request returns the first result, a different request with the same key is refused.
/// The balance and its ledger entry change in one transaction, so a balance always equals its ledger's sum.
/// </summary>
internal static class BillingEndpoints
{
    public const string IdempotencyHeader = "Idempotency-Key";

    public static void Map(RouteGroupBuilder tenant)
    {
        tenant.MapGet("/subscribers/{username}/balance", BalanceAsync).WithName("GetBalance");
        tenant.MapGet("/subscribers/{username}/ledger", LedgerAsync).WithName("ListLedger");
        tenant.MapPost("/subscribers/{username}/topups", (HttpContext http, string tenant, string username, MoneyRequest body, ShardAccess access, IdempotencyKeys keys,
            IRegionCache cache, CancellationToken ct) => PostAsync(http, tenant, username, "topup", body, access, keys, cache, ct)).WithName("TopUp");
        tenant.MapPost("/subscribers/{username}/adjustments", (HttpContext http, string tenant, string username, MoneyRequest body, ShardAccess access, IdempotencyKeys keys,
            IRegionCache cache, CancellationToken ct) => PostAsync(http, tenant, username, "adjustment", body, access, keys, cache, ct)).WithName("Adjust");
    }

    private static async Task<IResult> BalanceAsync(HttpContext http, string tenant, string username, ShardAccess access, CancellationToken cancellationToken)
    {
        var (shard, error) = await access.ForSubscriberAsync(http, tenant, username, cancellationToken);
        if (shard is null)
        {
            return error!;
        }

        await using var connection = await shard.DataSource.OpenConnectionAsync(cancellationToken);
        var balance = await connection.QuerySingleOrDefaultAsync<BalanceResponse>(new CommandDefinition("""
            SELECT s.username AS Username, b.amount_micros AS AmountMicros, b.currency AS Currency, b.updated_at AS UpdatedAt
            FROM balances b JOIN subscribers s ON s.id = b.subscriber_id
            WHERE s.username = @username AND s.status <> 'deleted'
            """, new { username }, cancellationToken: cancellationToken));
        return balance is null ? SubscriberEndpoints.NotFound() : Results.Ok(balance);
    }

    private static async Task<IResult> LedgerAsync(HttpContext http, string tenant, string username, string? cursor, int? limit, ShardAccess access, CancellationToken cancellationToken)
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
        var entries = (await connection.QueryAsync<LedgerEntryResponse>(new CommandDefinition($"""
            SELECT {ResponseColumns} FROM ledger l JOIN subscribers s ON s.id = l.subscriber_id
            WHERE s.username = @username AND l.id > @after ORDER BY l.id LIMIT @size
            """, new { username, after, size }, cancellationToken: cancellationToken))).AsList();

        return Results.Ok(new Page<LedgerEntryResponse>(entries, entries.Count == size ? Cursor.Encode(entries[^1].Id.ToString()) : null));
    }

    /// <summary>A ledger entry as <see cref="LedgerEntryResponse"/> (aliased for Dapper).</summary>
    private const string ResponseColumns =
        "l.id AS Id, l.kind AS Kind, l.amount_micros AS AmountMicros, l.balance_after_micros AS BalanceAfterMicros, l.idempotency_key AS IdempotencyKey, l.reason AS Reason, l.created_at AS CreatedAt";

    /// <summary>The response's columns and the hash that tells a repeated request from a different one with the same key.</summary>
    private const string EntryColumns = ResponseColumns + ", l.request_hash";

    /// <summary>The largest amount one top-up or adjustment may carry, either sign: a billion currency units.</summary>
    public const long MaxAmountMicros = 1_000_000_000_000_000;

    private static async Task<IResult> PostAsync(HttpContext http, string tenant, string username, string kind, MoneyRequest body, ShardAccess access,
        IdempotencyKeys keys, IRegionCache cache, CancellationToken cancellationToken)
    {
        var key = http.Request.Headers[IdempotencyHeader].ToString();
        var errors = new Dictionary<string, string[]>();
        Validation.Require(errors, IdempotencyHeader, key.Length is >= 1 and <= 200 && !key.StartsWith("cdr:", StringComparison.Ordinal) && !key.StartsWith("demo-seed-", StringComparison.Ordinal),
            "required header: 1 to 200 characters, chosen by the client, unique per operation");
        Validation.Require(errors, "amountMicros", body.AmountMicros is { } amount && (kind == "topup" ? amount > 0 : amount != 0) && Math.Abs(amount) <= MaxAmountMicros,
            $"{(kind == "topup" ? "a positive" : "a non-zero")} amount in micro-units, at most {MaxAmountMicros} in size");
        Validation.Require(errors, "reason", body.Reason is null || body.Reason.Length <= 500, "at most 500 characters");
        if (errors.Count > 0)
        {
            return Results.ValidationProblem(errors);
        }

        var (shard, error) = await access.ForSubscriberAsync(http, tenant, username, cancellationToken);
        if (shard is null)
        {
            return error!;
        }

        var requestHash = SHA256.HashData(Encoding.UTF8.GetBytes($"{kind}\n{username}\n{body.AmountMicros}\n{body.Reason}"));
        // Tenant-wide first (the directory), then the shard: a key used for another shard of the tenant is refused here.
        if (!await keys.ClaimAsync(tenant, key, requestHash, shard.HomeRegion, cancellationToken))
        {
            return KeyReused(key);
        }

        for (var attempt = 0; ; attempt++)
        {
            try
            {
                var (outcome, entry) = await ShardAccess.WriteAsync(shard, (connection, transaction) =>
                    ApplyAsync(connection, transaction, username, kind, body.AmountMicros!.Value, body.Reason, key, requestHash, cancellationToken), cancellationToken);
                switch (outcome)
                {
                    case Outcome.KeyReused:
                        return KeyReused(key);
                    case Outcome.NotFound:
                        return SubscriberEndpoints.NotFound();
                    case Outcome.Negative:
                        return Results.Problem(statusCode: 422, title: "Balance would go negative", detail: "This adjustment would take the balance below zero.");
                    case Outcome.OutOfRange:
                        return Results.Problem(statusCode: 422, title: "Balance out of range",
                            detail: "The balance after this operation would exceed what a balance can hold; use a smaller amount.");
                    case Outcome.Replayed:
                        http.Response.Headers["Idempotent-Replayed"] = "true";
                        return Results.Ok(entry);
                    default:
                        await cache.InvalidateProfileAsync(shard.DatabaseName, username);
                        return Results.Created($"/tenants/{tenant}/subscribers/{Uri.EscapeDataString(username)}/ledger", entry);
                }
            }
            catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.UniqueViolation && attempt == 0)
            {
                // The same key committed concurrently: the second pass finds it and replays it.
            }
        }
    }

    private static IResult KeyReused(string key) => Results.Problem(statusCode: 409, title: "Idempotency key reused",
        detail: $"The key '{key}' was used for a different request; use a new key for a new operation.");

    private enum Outcome
    {
        Applied,
        Replayed,
        KeyReused,
        NotFound,
        Negative,
        OutOfRange,
    }

    private static async Task<(Outcome Outcome, LedgerEntryResponse? Entry)> ApplyAsync(NpgsqlConnection connection, NpgsqlTransaction transaction,
        string username, string kind, long amount, string? reason, string key, byte[] requestHash, CancellationToken cancellationToken)
    {
        await using (var existing = new NpgsqlCommand($"SELECT {EntryColumns} FROM ledger_entries l WHERE l.idempotency_key = $1", connection, transaction))
        {
            existing.Parameters.Add(new() { Value = key });
            await using var reader = await existing.ExecuteReaderAsync(cancellationToken);
            if (await reader.ReadAsync(cancellationToken))
            {
                var same = !reader.IsDBNull(7) && ((byte[])reader[7]).AsSpan().SequenceEqual(requestHash);
                return same ? (Outcome.Replayed, ReadEntry(reader)) : (Outcome.KeyReused, null);
            }
        }

        Guid subscriber;
        long balance;
        await using (var read = new NpgsqlCommand("""
            SELECT b.subscriber_id, b.amount_micros FROM balances b JOIN subscribers s ON s.id = b.subscriber_id
            WHERE s.username = $1 AND s.status <> 'deleted' FOR UPDATE OF b
            """, connection, transaction))
        {
            read.Parameters.Add(new() { Value = username });
            await using var reader = await read.ExecuteReaderAsync(cancellationToken);
            if (!await reader.ReadAsync(cancellationToken))
            {
                return (Outcome.NotFound, null);
            }

            (subscriber, balance) = (reader.GetGuid(0), reader.GetInt64(1));
        }

        // Checked here, not left to the database: an overflowing bigint would otherwise surface as an SQL error.
        long after;
        try
        {
            after = checked(balance + amount);
        }
        catch (OverflowException)
        {
            return (Outcome.OutOfRange, null);
        }

        if (after < 0)
        {
            return (Outcome.Negative, null);
        }

        await using var apply = new NpgsqlCommand($"""
            WITH b AS (UPDATE balances SET amount_micros = $5, updated_at = now() WHERE subscriber_id = $2)
            INSERT INTO ledger_entries AS l (id, subscriber_id, kind, amount_micros, balance_after_micros, idempotency_key, request_hash, reason)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
            RETURNING {EntryColumns}
            """, connection, transaction);
        apply.Parameters.Add(new() { Value = Guid.CreateVersion7() });
        apply.Parameters.Add(new() { Value = subscriber });
        apply.Parameters.Add(new() { Value = kind });
        apply.Parameters.Add(new() { Value = amount });
        apply.Parameters.Add(new() { Value = after });
        apply.Parameters.Add(new() { Value = key });
        apply.Parameters.Add(new() { Value = requestHash });
        apply.Parameters.Add(new() { Value = (object?)reason ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        await using var inserted = await apply.ExecuteReaderAsync(cancellationToken);
        await inserted.ReadAsync(cancellationToken);
        return (Outcome.Applied, ReadEntry(inserted));
    }

    private static LedgerEntryResponse ReadEntry(NpgsqlDataReader reader) => new(
        reader.GetGuid(0), reader.GetString(1), reader.GetInt64(2), reader.GetInt64(3),
        reader.IsDBNull(4) ? null : reader.GetString(4), reader.IsDBNull(5) ? null : reader.GetString(5), reader.GetFieldValue<DateTimeOffset>(6));
}

using Dapper;
using Npgsql;
using Geo.RegionNode.Shards;

namespace Geo.RegionNode.Api;

/// <summary>
/// Plans of a tenant. A plan lives in every shard of the tenant; a write here goes to the shards this region
/// owns (geo-router sends plan writes to every region), and is visible to authentication within one refresh.
/// </summary>
internal static class PlanEndpoints
{
    private const string Columns = """
        id, display_name, download_kbps, upload_kbps, session_timeout_s, interim_interval_s, simultaneous_use, framed_pool,
        data_quota_bytes, time_quota_s, validity_days, reset_day, price_per_mb_micros, price_per_minute_micros, allow_overdraft,
        exhaustion_action, throttle_download_kbps, throttle_upload_kbps
        """;

    public static void Map(RouteGroupBuilder tenant)
    {
        tenant.MapGet("/plans", ListAsync).WithName("ListPlans");
        tenant.MapPut("/plans/{planId}", PutAsync).WithName("PutPlan");
    }

    private static async Task<IResult> ListAsync(string tenant, ShardCatalog catalog, CancellationToken cancellationToken)
    {
        var shard = catalog.ShardsOf(tenant).FirstOrDefault();
        if (shard is null)
        {
            return Results.Ok(Array.Empty<PlanBody>());
        }

        await using var connection = await shard.DataSource.OpenConnectionAsync(cancellationToken);
        // Aliased to PlanBody's parameters, in order, for Dapper (reset_day is a smallint, the body's field an int).
        var plans = await connection.QueryAsync<PlanBody>(new CommandDefinition("""
            SELECT id AS Id, display_name AS DisplayName, download_kbps AS DownloadKbps, upload_kbps AS UploadKbps,
                   session_timeout_s AS SessionTimeoutSeconds, interim_interval_s AS InterimIntervalSeconds, simultaneous_use AS SimultaneousUse,
                   framed_pool AS FramedPool, data_quota_bytes AS DataQuotaBytes, time_quota_s AS TimeQuotaSeconds, validity_days AS ValidityDays,
                   reset_day::integer AS ResetDay, price_per_mb_micros AS PricePerMbMicros, price_per_minute_micros AS PricePerMinuteMicros,
                   allow_overdraft AS AllowOverdraft, exhaustion_action AS ExhaustionAction, throttle_download_kbps AS ThrottleDownloadKbps,
                   throttle_upload_kbps AS ThrottleUploadKbps
            FROM plans ORDER BY id
            """, cancellationToken: cancellationToken));
        return Results.Ok(plans.AsList());
    }

    private static async Task<IResult> PutAsync(string tenant, string planId, PlanBody body, ShardCatalog catalog, CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        Validation.Require(errors, "planId", planId.Length is >= 1 and <= 63 && planId.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '.' or '_' or '-'),
            "lower-case letters, digits, '.', '_' and '-', at most 63");
        Validation.Require(errors, "displayName", !string.IsNullOrWhiteSpace(body.DisplayName) && body.DisplayName.Length <= 200, "required, at most 200 characters");
        Validation.Require(errors, "framedPool", body.FramedPool is null || body.FramedPool.Length <= 200, "at most 200 characters");
        // The database's own checks, said first in the client's terms (its refusal would name a constraint).
        foreach (var (field, value) in new (string, int?)[]
        {
            ("downloadKbps", body.DownloadKbps), ("uploadKbps", body.UploadKbps), ("sessionTimeoutSeconds", body.SessionTimeoutSeconds),
            ("validityDays", body.ValidityDays), ("throttleDownloadKbps", body.ThrottleDownloadKbps), ("throttleUploadKbps", body.ThrottleUploadKbps),
        })
        {
            Validation.Require(errors, field, value is null or > 0, "a positive number");
        }

        Validation.Require(errors, "dataQuotaBytes", body.DataQuotaBytes is null or >= 0, "not negative");
        Validation.Require(errors, "timeQuotaSeconds", body.TimeQuotaSeconds is null or >= 0, "not negative");
        Validation.Require(errors, "exhaustionAction", body.ExhaustionAction is null or "disconnect" or "throttle", "'disconnect' or 'throttle'");
        Validation.Require(errors, "throttleDownloadKbps", body.ExhaustionAction != "throttle" || (body.ThrottleDownloadKbps > 0 && body.ThrottleUploadKbps > 0),
            "a throttle plan needs throttleDownloadKbps and throttleUploadKbps");
        Validation.Require(errors, "resetDay", body.ResetDay is null or (>= 1 and <= 28), "1 to 28");
        Validation.Require(errors, "interimIntervalSeconds", body.InterimIntervalSeconds is null or >= 60, "at least 60");
        Validation.Require(errors, "simultaneousUse", body.SimultaneousUse is null or >= 1, "at least 1");
        Validation.Require(errors, "pricePerMbMicros", body.PricePerMbMicros is null or >= 0, "not negative");
        Validation.Require(errors, "pricePerMinuteMicros", body.PricePerMinuteMicros is null or >= 0, "not negative");
        if (errors.Count > 0)
        {
            return Results.ValidationProblem(errors);
        }

        var shards = catalog.ShardsOf(tenant).ToList();
        if (shards.Count == 0)
        {
            // Nothing would be written: say so rather than answer 200 (a tenant created a moment ago is served within a second).
            return Results.Problem(statusCode: StatusCodes.Status404NotFound,
                detail: $"this region serves no shard of tenant '{tenant}': write the plan in a region that owns one of its shards");
        }

        foreach (var shard in shards)
        {
            await ShardAccess.WriteAsync(shard, async (connection, transaction) =>
            {
                await using var upsert = new NpgsqlCommand($"""
                    INSERT INTO plans ({Columns}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)
                    ON CONFLICT (id) DO UPDATE SET display_name = $2, download_kbps = $3, upload_kbps = $4, session_timeout_s = $5,
                        interim_interval_s = $6, simultaneous_use = $7, framed_pool = $8, data_quota_bytes = $9, time_quota_s = $10,
                        validity_days = $11, reset_day = $12, price_per_mb_micros = $13, price_per_minute_micros = $14, allow_overdraft = $15,
                        exhaustion_action = $16, throttle_download_kbps = $17, throttle_upload_kbps = $18, updated_at = now()
                    """, connection, transaction);
                object?[] values =
                [
                    planId, body.DisplayName, body.DownloadKbps, body.UploadKbps, body.SessionTimeoutSeconds, body.InterimIntervalSeconds ?? 300,
                    body.SimultaneousUse ?? 1, body.FramedPool, body.DataQuotaBytes, body.TimeQuotaSeconds, body.ValidityDays, (short?)body.ResetDay,
                    body.PricePerMbMicros ?? 0, body.PricePerMinuteMicros ?? 0, body.AllowOverdraft ?? false, body.ExhaustionAction ?? "disconnect",
                    body.ThrottleDownloadKbps, body.ThrottleUploadKbps,
                ];
                foreach (var value in values)
                {
                    upsert.Parameters.Add(new NpgsqlParameter { Value = value ?? DBNull.Value });
                }

                return await upsert.ExecuteNonQueryAsync(cancellationToken);
            }, cancellationToken);
        }

        await catalog.RefreshAsync(cancellationToken);
        return Results.Ok(body with { Id = planId });
    }
}

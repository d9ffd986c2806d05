using System.Net;

namespace Geo.RegionNode.Api;

/// <summary>Create a subscriber. The home region is <see cref="Region"/>, else the primary region of <see cref="NasId"/>, else this region.</summary>
public sealed record CreateSubscriberRequest(string? Username, string? Password, string? PlanId, string? Region, string? NasId, DateTimeOffset? ValidUntil, string? FramedIp);

/// <summary>Change a subscriber; absent fields stay as they are.</summary>
public sealed record UpdateSubscriberRequest(string? Password, string? PlanId, DateTimeOffset? ValidUntil, string? FramedIp);

/// <summary>A subscriber as the API shows it (never the password).</summary>
public sealed record SubscriberResponse(Guid Id, string Username, string PlanId, string Status, DateTimeOffset? ValidUntil, string? FramedIp, string HomeRegion, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);

/// <summary>A page of a listing; <see cref="Next"/> is the cursor of the next page, null on the last.</summary>
public sealed record Page<T>(IReadOnlyList<T> Items, string? Next);

/// <summary>Money in micro-units (1/1,000,000) of the currency.</summary>
public sealed record BalanceResponse(string Username, long AmountMicros, string Currency, DateTimeOffset UpdatedAt);

/// <summary>A top-up or adjustment; the Idempotency-Key header makes a repeat return the first result.</summary>
public sealed record MoneyRequest(long? AmountMicros, string? Reason);

/// <summary>One ledger entry.</summary>
public sealed record LedgerEntryResponse(Guid Id, string Kind, long AmountMicros, long BalanceAfterMicros, string? IdempotencyKey, string? Reason, DateTimeOffset CreatedAt);

/// <summary>An active session.</summary>
public sealed record SessionResponse(Guid Id, string NasId, string AcctSessionId, string? FramedIp, DateTimeOffset StartedAt, DateTimeOffset LastUpdateAt,
    long InputOctets, long OutputOctets, long SessionTimeSeconds);

/// <summary>A CDR.</summary>
public sealed record CdrResponse(Guid Id, Guid SessionId, string Kind, DateTimeOffset EventTime, long InputOctets, long OutputOctets, long SessionTimeSeconds,
    long DeltaInputOctets, long DeltaOutputOctets, long DeltaSessionTimeSeconds, long ChargedMicros, int Flags);

/// <summary>A plan: rates, limits, quotas, prices and the exhaustion action.</summary>
public sealed record PlanBody(string? Id, string? DisplayName, int? DownloadKbps, int? UploadKbps, int? SessionTimeoutSeconds, int? InterimIntervalSeconds,
    int? SimultaneousUse, string? FramedPool, long? DataQuotaBytes, long? TimeQuotaSeconds, int? ValidityDays, int? ResetDay,
    long? PricePerMbMicros, long? PricePerMinuteMicros, bool? AllowOverdraft, string? ExhaustionAction, int? ThrottleDownloadKbps, int? ThrottleUploadKbps);

internal static class Validation
{
    public static void Require(Dictionary<string, string[]> errors, string field, bool ok, string message)
    {
        if (!ok)
        {
            errors[field] = errors.TryGetValue(field, out var existing) ? [.. existing, message] : [message];
        }
    }

    /// <summary>Text PostgreSQL can store: no NUL and no unpaired UTF-16 surrogate (which has no UTF-8 form).</summary>
    public static bool IsStorableText(string value)
    {
        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            if (c == '\0' || char.IsLowSurrogate(c) || (char.IsHighSurrogate(c) && (++i == value.Length || !char.IsLowSurrogate(value[i]))))
            {
                return false;
            }
        }

        return true;
    }

    public static bool IsAddress(string? value) => value is null || (IPAddress.TryParse(value, out var ip) && ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork);
}

using Geo.Rating;

namespace Geo.RegionNode.Shards;

/// <summary>A service plan: what the Access-Accept carries, the session limit, and how usage is rated.</summary>
internal sealed record Plan(
    string Id,
    int? DownloadKbps,
    int? UploadKbps,
    int? SessionTimeoutSeconds,
    int InterimIntervalSeconds,
    int SimultaneousUse,
    string? FramedPool,
    Tariff Tariff,
    int? ValidityDays,
    int? ResetDay,
    int? ThrottleDownloadKbps,
    int? ThrottleUploadKbps)
{
    /// <summary>True when accounting must be rated (a quota or a price).</summary>
    public bool IsRated => Tariff.DataQuotaBytes is not null || Tariff.TimeQuotaSeconds is not null || Tariff.IsPriced;
}

namespace Geo.RegionNode.Shards;

/// <summary>A service plan as authentication needs it: what the Access-Accept carries and the session limit.</summary>
internal sealed record Plan(
    string Id,
    int? DownloadKbps,
    int? UploadKbps,
    int? SessionTimeoutSeconds,
    int InterimIntervalSeconds,
    int SimultaneousUse,
    string? FramedPool);

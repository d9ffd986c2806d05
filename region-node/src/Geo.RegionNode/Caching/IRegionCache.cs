namespace Geo.RegionNode.Caching;

/// <summary>
/// The region's cache (Redis): auth profiles and the index of active sessions. A cache only: every method
/// reports "don't know" (null / false) when the cache is unavailable, and callers then ask PostgreSQL.
/// One small interface so that the Redis client can be replaced without touching the AAA code.
/// </summary>
internal interface IRegionCache
{
    /// <summary>True while the session index can be trusted (connected, and rebuilt since the last outage).</summary>
    bool SessionIndexValid { get; }

    ValueTask<AuthProfile?> GetProfileAsync(string database, string username);

    void SetProfile(string database, string username, AuthProfile profile);

    Task InvalidateProfileAsync(string database, string username);

    /// <summary>
    /// A subscriber's profile changed (database, username): raised for an invalidation on this node and for one
    /// another node announced. Handlers must be quick and must not throw.
    /// </summary>
    event Action<string, string>? ProfileChanged;

    /// <summary>Open sessions of a subscriber, or null when the index is not valid.</summary>
    ValueTask<long?> CountSessionsAsync(string database, Guid subscriberId);

    void AddSession(string database, Guid subscriberId, Guid sessionId);

    void RemoveSession(string database, Guid subscriberId, Guid sessionId);
}

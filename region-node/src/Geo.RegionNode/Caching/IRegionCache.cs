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

    /// <summary>A profile from this node's own memory: no round trip.</summary>
    bool TryGetLocalProfile(string database, string username, out AuthProfile profile);

    /// <summary>
    /// Profiles of several subscribers of a shard from the region's cache in one round trip (null where it has none,
    /// and for all of them when the cache is unavailable); those found are kept in this node's memory too.
    /// </summary>
    Task<AuthProfile?[]> GetProfilesAsync(string database, IReadOnlyList<string> usernames);

    /// <summary>
    /// Keeps profiles just read from PostgreSQL in the region's cache (one round trip); in this node's memory only when the
    /// region's cache is unavailable (a later hit in the region's cache brings them into memory).
    /// </summary>
    void SetProfiles(string database, IReadOnlyList<(string Username, AuthProfile Profile)> profiles);

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

namespace Geo.Engines.Redis;

/// <summary>How to create or reopen a private Redis server.</summary>
public sealed class RedisServerOptions
{
    /// <summary>The server's folder: configuration, append-only file, pid file and log.</summary>
    public required string Directory { get; init; }

    /// <summary>The loopback port; 0 asks the operating system for a free one (only on first creation).</summary>
    public int Port { get; init; }
}

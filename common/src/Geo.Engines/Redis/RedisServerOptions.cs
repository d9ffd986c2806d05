namespace Geo.Engines.Redis;

/// <summary>How to create or reopen a private Redis server.</summary>
public sealed class RedisServerOptions
{
    /// <summary>The server's folder: configuration, append-only file, pid file and log.</summary>
    public required string Directory { get; init; }

    /// <summary>The loopback port; 0 asks the operating system for a free one (only on first creation).</summary>
    public int Port { get; init; }

    /// <summary>
    /// True makes the server refuse every command before AUTH with a password generated on creation and kept in its folder,
    /// readable by its owner only (<see cref="RedisServer.PasswordFile"/>). Applies on creation.
    /// </summary>
    public bool RequirePassword { get; init; }
}

namespace Geo.Engines.Postgres;

/// <summary>How to create or reopen a private PostgreSQL cluster.</summary>
public sealed class PostgresClusterOptions
{
    /// <summary>The cluster's folder: its data directory, socket, configuration and log live below it.</summary>
    public required string Directory { get; init; }

    /// <summary>The loopback port; 0 asks the operating system for a free one (only on first creation).</summary>
    public int Port { get; init; }

    /// <summary>
    /// False turns fsync and synchronous commit off. Only for throwaway test clusters: never for the local
    /// stack, durability tests or benchmarks.
    /// </summary>
    public bool Durable { get; init; } = true;

    /// <summary>
    /// True makes the cluster refuse every connection without the superuser's password (scram-sha-256, over TCP and the
    /// socket, which only the server's user may open). The password is generated on creation and kept in the cluster's
    /// folder in a pgpass file readable by its owner only (<see cref="PostgresCluster.PasswordFile"/>); connection strings
    /// name that file, never the password. Applies on creation: a cluster made without it stays as it was.
    /// </summary>
    public bool RequirePassword { get; init; }

    /// <summary>Extra server settings written to the cluster's configuration.</summary>
    public IReadOnlyDictionary<string, string> Settings { get; init; } = new Dictionary<string, string>();
}

using Geo.Directory.Stores.Consul;

namespace Geo.Router;

/// <summary>
/// Configuration of geo-router (section <c>Router</c>: <c>--Router:DirectoryStore=...</c> or <c>GEO_Router__DirectoryStore</c>).
/// Where it listens is the common <c>Urls</c> setting (<c>--urls</c>), default <see cref="RouterServer.DefaultUrls"/>.
/// A class, not a record: a generated ToString would print the directory's password or Consul token.
/// </summary>
public sealed class RouterOptions
{
    /// <summary>The directory store: <c>postgres</c> (embedded default) or <c>consul</c>.</summary>
    public string DirectoryStore { get; set; } = "postgres";

    /// <summary>Connection string of the directory database (store <c>postgres</c>); never logged.</summary>
    public string? DirectoryConnectionString { get; set; }

    /// <summary>The Consul agent and key layout (store <c>consul</c>).</summary>
    public ConsulDirectoryOptions Consul { get; set; } = new();

    /// <summary>Time between active health checks of each region.</summary>
    public TimeSpan HealthCheckInterval { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>How long a health check may take.</summary>
    public TimeSpan HealthCheckTimeout { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Failed health checks in a row that mark a region down (a refused connection, or a failed forward, marks it down at once).</summary>
    public int HealthCheckFailureThreshold { get; set; } = 2;

    /// <summary>How long connecting to a region may take before its shards answer 503.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// How long a region may stay silent during one forwarded request (or listing) before the router answers 503 with
    /// Retry-After itself: a region that accepts connections but hangs holds no caller longer than this.
    /// </summary>
    public TimeSpan RegionTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>The <c>Retry-After</c> seconds of a 503 for a shard whose owner is down or changing.</summary>
    public int RetryAfterSeconds { get; set; } = 1;

    /// <summary>Largest request body the router buffers (writes are buffered so that they can be retried once).</summary>
    public int MaxRequestBodyBytes { get; set; } = 1024 * 1024;

    /// <summary>Page size of a listing when the client names none.</summary>
    public int DefaultPageSize { get; set; } = 100;

    /// <summary>Largest page size a client may ask for.</summary>
    public int MaxPageSize { get; set; } = 1000;

    /// <summary>
    /// Time between sweeps for placements whose subscriber was never created (a create that timed out or a router that
    /// stopped mid-create); <see cref="TimeSpan.Zero"/> turns the sweep off. It reads each shard's database, so it runs
    /// only with <see cref="AdminOptions.Servers"/> configured.
    /// </summary>
    public TimeSpan OrphanSweepInterval { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>How old a placement must be before the sweep checks it: longer than any create can take.</summary>
    public TimeSpan OrphanSweepMinAge { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>The operators' admin API (<c>/admin/...</c>): off unless an operator key is configured.</summary>
    public AdminOptions Admin { get; set; } = new();

    internal IEnumerable<string> Validate()
    {
        if (DirectoryStore is not ("postgres" or "consul"))
        {
            yield return $"Router:DirectoryStore must be 'postgres' or 'consul', not '{DirectoryStore}'";
        }

        if (DirectoryStore == "postgres" && string.IsNullOrWhiteSpace(DirectoryConnectionString))
        {
            yield return "Router:DirectoryConnectionString is required with the postgres directory store";
        }

        foreach (var (name, value) in new[]
                 {
                     ("HealthCheckInterval", HealthCheckInterval), ("HealthCheckTimeout", HealthCheckTimeout),
                     ("ConnectTimeout", ConnectTimeout), ("RegionTimeout", RegionTimeout), ("OrphanSweepMinAge", OrphanSweepMinAge),
                 })
        {
            if (value <= TimeSpan.Zero)
            {
                yield return $"Router:{name} must be positive";
            }
        }

        if (OrphanSweepInterval < TimeSpan.Zero)
        {
            yield return "Router:OrphanSweepInterval must be zero (off) or positive";
        }

        if (OrphanSweepMinAge <= RegionTimeout)
        {
            yield return "Router:OrphanSweepMinAge must be longer than Router:RegionTimeout, or a create still in flight could lose its placement";
        }

        if (Admin.Enabled)
        {
            if (Admin.OperatorKeySha256.Length != 64 || !Admin.OperatorKeySha256.All(char.IsAsciiHexDigit))
            {
                yield return "Router:Admin:OperatorKeySha256 must be the hex SHA-256 of the operator key (64 hex digits)";
            }

            if (string.IsNullOrWhiteSpace(DirectoryConnectionString))
            {
                // With the Consul store too: operator keys and the audit log live only in PostgreSQL (see OperatorStore).
                yield return "Router:Admin needs Router:DirectoryConnectionString (with the consul store: a PostgreSQL database with the directory schema, for operator keys and the audit log)";
            }

            if (Admin.RefusedAuditPerSource < 0 || Admin.RefusedAuditTotal < Admin.RefusedAuditPerSource || Admin.RefusedAuditWindow <= TimeSpan.Zero)
            {
                yield return "Router:Admin:RefusedAuditPerSource must not be negative, RefusedAuditTotal at least RefusedAuditPerSource, RefusedAuditWindow positive";
            }

            if (Admin.Servers.Count == 0)
            {
                yield return "Router:Admin:Servers:<region> must name each region's PostgreSQL server (a connection string without a database)";
            }
        }

        if (RetryAfterSeconds < 1 || HealthCheckFailureThreshold < 1 || MaxRequestBodyBytes < 1 || DefaultPageSize < 1 || MaxPageSize < DefaultPageSize)
        {
            yield return "Router:RetryAfterSeconds, HealthCheckFailureThreshold, MaxRequestBodyBytes and DefaultPageSize must be positive and MaxPageSize at least DefaultPageSize";
        }
    }
}

/// <summary>
/// The admin API of geo-router (section <c>Router:Admin</c>): tenant onboarding for an operator's tooling. Guarded by
/// an operator key, of which only the SHA-256 is configured; it needs each region's PostgreSQL server to create
/// and drop shard databases.
/// </summary>
public sealed class AdminOptions
{
    /// <summary>
    /// Hex SHA-256 of the bootstrap operator key (<c>printf %s "$KEY" | sha256sum</c>), named <c>bootstrap</c> in the audit
    /// log; empty turns the admin API off. Further operators get named, revocable keys (<c>POST /admin/operator-keys</c>,
    /// <c>geoctl operator-key add</c>), stored hashed in the directory.
    /// </summary>
    public string OperatorKeySha256 { get; set; } = "";

    /// <summary>Per region, its PostgreSQL server: a connection string without a database, allowed to create databases; never logged.</summary>
    public Dictionary<string, string> Servers { get; set; } = new(StringComparer.Ordinal);

    /// <summary>How long a creation waits for each standby's replicator to start streaming.</summary>
    public TimeSpan ReplicationTimeout { get; set; } = TimeSpan.FromSeconds(120);

    /// <summary>
    /// Refused admin calls (no, wrong or revoked operator key) written to the audit log per source address and
    /// <see cref="RefusedAuditWindow"/>; more are counted in a warning instead, so a flood cannot fill the table.
    /// </summary>
    public int RefusedAuditPerSource { get; set; } = 10;

    /// <summary>Refused admin calls written per <see cref="RefusedAuditWindow"/> from all sources together (many addresses, one flood).</summary>
    public int RefusedAuditTotal { get; set; } = 100;

    /// <summary>The window the refused-call caps count in.</summary>
    public TimeSpan RefusedAuditWindow { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Whether the admin API is on.</summary>
    public bool Enabled => OperatorKeySha256.Length > 0;
}

using Geo.Engines.Postgres;

namespace Geo.Ctl.LocalStack;

/// <summary>Where the local stack keeps its state: everything below one folder (<c>.geo/</c> by default, git-ignored).</summary>
internal sealed class StackLayout(string root)
{
    public string Root { get; } = Path.GetFullPath(root);

    public string StateFile => Path.Combine(Root, "stack.json");

    /// <summary>A deployment's databases (<see cref="LocalStack.DeploymentFile"/>), in a folder that holds no local stack.</summary>
    public string DeploymentFile => Path.Combine(Root, "platform.json");

    public string LockFile => Path.Combine(Root, "geoctl.lock");

    /// <summary>The key ring that seals subscriber passwords and NAS secrets in the demo databases.</summary>
    public string KeyringFile => Path.Combine(Root, "keyring");

    /// <summary>The secret the regions' nodes share for forwarding RADIUS to a shard's owner region.</summary>
    public string InterRegionSecretFile => Path.Combine(Root, "inter-region.secret");

    /// <summary>The operator key of geo-router's admin API (only its SHA-256 is given to the router).</summary>
    public string OperatorKeyFile => Path.Combine(Root, "operator.key");

    public string DirectoryPostgres => Path.Combine(Root, "directory", "postgres");

    /// <summary>
    /// The directory database of the local stack, or of the deployment this folder describes (platform.json); null
    /// when it has neither.
    /// </summary>
    public string? DirectoryConnectionString() =>
        PostgresCluster.Open(DirectoryPostgres)?.ConnectionString("geo_directory")
        ?? LocalStack.DeploymentFile.Load(this)?.Directory;

    public string LogsDirectory => Path.Combine(Root, "logs");

    public string DemoDirectory => Path.Combine(Root, "demo");

    public string RegionPostgres(string region) => Path.Combine(Root, "regions", region, "postgres");

    public string RegionRedis(string region) => Path.Combine(Root, "regions", region, "redis");

    public string RegionNode(string region) => Path.Combine(Root, "regions", region, "node");

    public string Router => Path.Combine(Root, "router");

    public string Replicator(string region) => Path.Combine(Root, "regions", region, "replicator");

    /// <summary>
    /// The PostgreSQL password file of a service's role (<c>geo_node</c>, <c>geo_router</c>): one line for every server of
    /// the stack, owner-only; the service is given its path, never the password.
    /// </summary>
    public string ServicePassfile(string role) => Path.Combine(Root, "credentials", $"{role}.pgpass");

    /// <summary>A NAS's demo shared secret, kept in a file so that no command has to print it.</summary>
    public string NasSecretFile(string nasId) => Path.Combine(DemoDirectory, "nas", $"{nasId}.secret");

    /// <summary>A demo tenant's API key (shown nowhere else: the directory keeps only its hash).</summary>
    public string ApiKeyFile(string tenantId) => Path.Combine(DemoDirectory, "api-keys", $"{tenantId}.key");

    /// <summary>The demo credentials of a shard (username,password per line), for radclient and the load tests.</summary>
    public string CredentialsFile(string database) => Path.Combine(DemoDirectory, "subscribers", $"{database}.csv");

    /// <summary>A path as the operator would type it from the current folder.</summary>
    public static string Show(string path)
    {
        var relative = Path.GetRelativePath(Environment.CurrentDirectory, path);
        return relative.StartsWith("..", StringComparison.Ordinal) ? path : relative;
    }
}

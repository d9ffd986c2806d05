using Geo.Ctl.LocalStack;
using Geo.Directory.Operators;
using Geo.Directory.Stores.Postgres;
using Geo.Engines;
using Geo.Engines.Postgres;
using Geo.Provisioning;
using Geo.Schema;
using Geo.Schema.Secrets;

namespace Geo.Ctl.Tenants;

/// <summary>
/// The platform as the lifecycle and DR commands see it: its directory, each region's PostgreSQL server, its key
/// ring (NAS secrets are sealed with it) and its folder of tenant API keys — those of the local stack, or of the
/// deployment the state folder describes (<see cref="DeploymentFile"/>: platform.json beside the same files).
/// </summary>
internal sealed class Platform : IAsyncDisposable
{
    private Platform(StackLayout layout, PlatformDatabases databases, PostgresDirectoryStore directory)
    {
        Layout = layout;
        Databases = databases;
        Directory = directory;
        Operators = new OperatorStore(databases.DirectoryConnectionString);
    }

    public StackLayout Layout { get; }

    public PlatformDatabases Databases { get; }

    public PostgresDirectoryStore Directory { get; }

    /// <summary>The operator keys and the audit log (directory database).</summary>
    public OperatorStore Operators { get; }

    /// <summary>Opens the local stack's platform, which must be running (<c>geoctl up</c>), or the deployment's.</summary>
    /// <remarks>
    /// With <paramref name="requireRegions"/> false (disaster recovery) a region whose PostgreSQL is down is still
    /// named, at its configured address: the command decides what it needs to reach.
    /// </remarks>
    public static async Task<Platform> OpenAsync(StackLayout layout, CancellationToken cancellationToken, bool requireRegions = true)
    {
        var state = await StackState.LoadAsync(layout, cancellationToken);
        if (state is null)
        {
            var deployment = DeploymentFile.Load(layout)
                ?? throw new StackException($"no local stack in {StackLayout.Show(layout.Root)}: start one with 'geoctl up', or describe a deployment in {StackLayout.Show(layout.DeploymentFile)} (docs/deploy.md)");
            return new Platform(layout, new PlatformDatabases(deployment.Directory, deployment.Servers), new PostgresDirectoryStore(deployment.Directory));
        }

        var directory = Running(PostgresCluster.Open(layout.DirectoryPostgres), "directory PostgreSQL");
        var servers = state.Regions.ToDictionary(r => r.Id, r => (requireRegions
            ? Running(PostgresCluster.Open(layout.RegionPostgres(r.Id)), $"region {r.Id} PostgreSQL")
            : PostgresCluster.Open(layout.RegionPostgres(r.Id)) ?? throw new StackException($"region {r.Id} has no PostgreSQL in {StackLayout.Show(layout.RegionPostgres(r.Id))}")).ConnectionString(),
            StringComparer.Ordinal);
        var connection = directory.ConnectionString("geo_directory");
        return new Platform(layout, new PlatformDatabases(connection, servers), new PostgresDirectoryStore(connection));
    }

    public SecretBox OpenSecrets() => File.Exists(Layout.KeyringFile)
        ? new SecretBox(SecretKeyring.Load(Layout.KeyringFile))
        : throw new StackException($"no key ring in {StackLayout.Show(Layout.KeyringFile)}: start the stack with 'geoctl up'");

    public ITenantKeyStore Keys => new FileKeyStore(Layout);

    /// <summary>Archives a database with pg_dump into <paramref name="folder"/>; returns the file.</summary>
    public async Task<string> ArchiveAsync(string folder, string region, string database, CancellationToken cancellationToken)
    {
        System.IO.Directory.CreateDirectory(folder);
        var file = Path.GetFullPath(Path.Combine(folder, $"{database}-{region}-{DateTime.UtcNow:yyyyMMddTHHmmssZ}.dump"));
        await Running(PostgresCluster.Open(Layout.RegionPostgres(region)), $"region {region} PostgreSQL").DumpAsync(database, file, cancellationToken);
        return file;
    }

    /// <summary>
    /// Who geoctl acts as: the key in <paramref name="keyFile"/> (a named operator key), by default the stack's own
    /// operator.key, which the router knows as its bootstrap key and the audit log names <c>bootstrap</c>.
    /// </summary>
    public async Task<OperatorIdentity> IdentifyOperatorAsync(string? keyFile, CancellationToken cancellationToken)
    {
        var file = keyFile ?? Layout.OperatorKeyFile;
        if (!File.Exists(file))
        {
            return default;
        }

        var bootstrap = File.Exists(Layout.OperatorKeyFile) ? OperatorKeys.Hash(await ReadKeyAsync(Layout.OperatorKeyFile, cancellationToken)) : null;
        return OperatorKeys.Identify(await ReadKeyAsync(file, cancellationToken), await Operators.ListKeysAsync(cancellationToken), bootstrap);
    }

    public async ValueTask DisposeAsync()
    {
        await Operators.DisposeAsync();
        await Directory.DisposeAsync();
    }

    private static async Task<string> ReadKeyAsync(string file, CancellationToken cancellationToken) => (await File.ReadAllTextAsync(file, cancellationToken)).Trim();

    private static PostgresCluster Running(PostgresCluster? cluster, string what) =>
        cluster is { IsRunning: true } ? cluster : throw new StackException($"{what} is not running: start the stack with 'geoctl up'");

    /// <summary>Tenant API keys in the local stack's folder, one private file per tenant.</summary>
    private sealed class FileKeyStore(StackLayout layout) : ITenantKeyStore
    {
        public async Task<string?> FindAsync(string tenantId, CancellationToken cancellationToken) =>
            File.Exists(layout.ApiKeyFile(tenantId)) ? (await File.ReadAllTextAsync(layout.ApiKeyFile(tenantId), cancellationToken)).Trim() : null;

        public Task SaveAsync(string tenantId, string key, CancellationToken cancellationToken) => PrivateFile.WriteAsync(layout.ApiKeyFile(tenantId), key, cancellationToken);

        public Task DeleteAsync(string tenantId, CancellationToken cancellationToken)
        {
            File.Delete(layout.ApiKeyFile(tenantId));
            return Task.CompletedTask;
        }

        public string Describe(string tenantId) => StackLayout.Show(layout.ApiKeyFile(tenantId));
    }
}

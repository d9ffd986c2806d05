using System.Globalization;
using System.Net;
using Geo.Ctl;
using Geo.Ctl.LocalStack;
using Geo.Engines;
using Geo.Engines.Postgres;
using Geo.Engines.Redis;
using Geo.Schema;
using Geo.Testing;
using Npgsql;

namespace Geo.RegionNode.IntegrationTests;

/// <summary>
/// The local stack's engines and demo data (geoctl up without services) in a temp folder, and a region
/// node for region <c>a</c> running in-process on free ports. Torn down by a reaper, also on a crash.
/// </summary>
public sealed class RegionFixture : IAsyncLifetime
{
    public const int SubscribersPerShard = 140;
    private Reaper? _reaper;

    public string StateDir { get; } = Path.Combine(TestFolders.Create("region"), ".geo");

    internal StackLayout Layout => new(StateDir);

    public RegionNodeServer Node { get; private set; } = null!;

    public IPEndPoint Auth => Node.AuthEndpoint;

    public IPEndPoint Acct => Node.AcctEndpoint;

    /// <summary>The demo NAS of tenant acme in region a.</summary>
    public const string NasAddress = "127.0.10.1";

    public string NasSecret => File.ReadAllText(Layout.NasSecretFile("acme-bng-a")).Trim();

    public RedisServer Redis => RedisServer.Open(Layout.RegionRedis("a"))!;

    public string ShardConnectionString => PostgresCluster.Open(Layout.RegionPostgres("a"))!.ConnectionString("geo_acme_a");

    public string DirectoryConnectionString => PostgresCluster.Open(Layout.DirectoryPostgres)!.ConnectionString("geo_directory");

    /// <summary>An HTTP client for the node's API with a demo tenant's API key (or none).</summary>
    public HttpClient Api(string? tenant = "acme")
    {
        var client = new HttpClient { BaseAddress = Node.HttpAddress };
        if (tenant is not null)
        {
            client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", File.ReadAllText(Layout.ApiKeyFile(tenant)).Trim());
        }

        return client;
    }

    /// <summary>The demo subscriber acme-a-NNNNNN and its password.</summary>
    public (string Username, string Password) Subscriber(int index)
    {
        var username = $"acme-a-{index.ToString("D6", CultureInfo.InvariantCulture)}";
        var line = File.ReadLines(Layout.CredentialsFile("geo_acme_a")).Single(l => l.StartsWith(username + ",", StringComparison.Ordinal));
        return (username, line[(username.Length + 1)..]);
    }

    /// <summary>A connection string of the stack as the region node's role (<c>geo_node</c>) instead of the superuser.</summary>
    public string AsNode(string connectionString) =>
        new NpgsqlConnectionStringBuilder(connectionString) { Username = ServiceRoles.RegionNode, Passfile = Layout.ServicePassfile(ServiceRoles.RegionNode) }.ConnectionString;

    public async Task InitializeAsync()
    {
        _reaper = StackReaper.Start(Path.GetDirectoryName(StateDir)!);
        await new LocalStackRunner(Layout, new Reporter(TextWriter.Null))
            .UpAsync(new UpOptions(["a", "b"], SubscribersPerShard) { StartServices = false }, CancellationToken.None);
        // Region a as a standby whose replicas are not there yet ('geoctl up' made them): no replicator runs here to fill
        // them, and the node's tests of a backup without a replica rely on it holding none.
        await using (var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(PostgresCluster.Open(Layout.RegionPostgres("a"))!.ConnectionString("postgres")) { Pooling = false }.ConnectionString))
        {
            await connection.OpenAsync();
            foreach (var tenant in new[] { "acme", "zenith" })
            {
                await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS {ShardDatabase.Quote(ShardDatabase.Name(tenant, "b"))} WITH (FORCE)", connection);
                await drop.ExecuteNonQueryAsync();
            }
        }

        Node = StartNode();
        await Node.StartAsync();
    }

    /// <summary>A region node for region a (or another) with test settings (free ports, quiet logs).</summary>
    public RegionNodeServer StartNode(params (string Key, string Value)[] overrides) => StartNode("a", overrides);

    public RegionNodeServer StartNode(string region, params (string Key, string Value)[] overrides)
    {
        var settings = new Dictionary<string, string?>
        {
            ["urls"] = "http://127.0.0.1:0",
            ["Management:Url"] = "http://127.0.0.1:0",
            ["Logging:LogLevel:Default"] = "Warning",
            ["RegionNode:RegionId"] = region,
            // As its own role, as 'geoctl up' starts it: what the node may not do fails here too.
            ["RegionNode:DirectoryConnectionString"] = AsNode(DirectoryConnectionString),
            ["RegionNode:PostgresConnectionString"] = AsNode(PostgresCluster.Open(Layout.RegionPostgres(region))!.ConnectionString()),
            ["RegionNode:RedisEndpoint"] = RedisServer.Open(Layout.RegionRedis(region))!.Endpoint,
            ["RegionNode:RedisPasswordFile"] = RedisServer.Open(Layout.RegionRedis(region))!.PasswordFile,
            ["RegionNode:InterRegionSecretFile"] = Layout.InterRegionSecretFile,
            ["RegionNode:KeyringFile"] = Layout.KeyringFile,
            ["RegionNode:RadiusBindAddress"] = "127.0.0.1",
            ["RegionNode:AuthPort"] = "0",
            ["RegionNode:AcctPort"] = "0",
        };
        foreach (var (key, value) in overrides)
        {
            settings[key] = value;
        }

        return RegionNodeServer.Create([], settings);
    }

    public async Task DisposeAsync()
    {
        if (Node is not null)
        {
            await Node.StopAsync();
            await Node.DisposeAsync();
        }

        NpgsqlConnection.ClearAllPools();
        _reaper?.Dispose();
    }
}

[CollectionDefinition(Name)]
public sealed class RegionFixtureGroup : ICollectionFixture<RegionFixture>
{
    public const string Name = "region fixture";
}

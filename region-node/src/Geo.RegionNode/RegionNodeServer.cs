using System.Net;
using Geo.Directory;
using Geo.Directory.Stores.Postgres;
using Geo.Hosting;
using Geo.RegionNode.Accounting;
using Geo.RegionNode.Api;
using Geo.RegionNode.Authentication;
using Geo.RegionNode.Caching;
using Geo.RegionNode.ChangeOfAuthorization;
using Geo.RegionNode.Operations;
using Geo.RegionNode.Shards;
using Geo.RegionNode.Survival;
using Geo.RegionNode.Telemetry;
using Geo.RegionNode.Transport;
using Geo.Schema.Secrets;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.Extensions.Options;

namespace Geo.RegionNode;

/// <summary>
/// The region node: RADIUS authentication and accounting, the tenant API and health over HTTP, metrics on a management listener. Stateless: all
/// state lives in PostgreSQL and Redis. Tests construct it in-process; <c>Program.cs</c> only runs it.
/// </summary>
public sealed class RegionNodeServer : IGeoServer
{
    private readonly WebApplication _app;

    private RegionNodeServer(WebApplication app) => _app = app;

    /// <summary>The RADIUS authentication endpoint actually bound.</summary>
    public IPEndPoint AuthEndpoint => _app.Services.GetRequiredService<RadiusServer>().AuthEndpoint;

    /// <summary>The RADIUS accounting endpoint actually bound.</summary>
    public IPEndPoint AcctEndpoint => _app.Services.GetRequiredService<RadiusServer>().AcctEndpoint;

    /// <summary>The HTTP base address actually bound (tenant API, health).</summary>
    public Uri HttpAddress => new(_app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());

    /// <summary>The management listener's address actually bound (metrics, OpenAPI document, health).</summary>
    public Uri ManagementAddress => _app.Services.GetRequiredService<ManagementListener>().Address ?? throw new InvalidOperationException("the node has not started");

    /// <summary>The HTTP address (API, health) when none is configured (<c>--urls</c>).</summary>
    public const string DefaultUrls = "http://127.0.0.1:8081";

    /// <summary>The management listener (metrics, OpenAPI document, health) when none is configured (<c>Management:Url</c>).</summary>
    public const string DefaultManagementUrl = "http://127.0.0.1:9081";

    /// <summary>Builds a node from Geo's configuration sources (see <see cref="GeoService"/>) and the given settings.</summary>
    public static RegionNodeServer Create(string[] args, IEnumerable<KeyValuePair<string, string?>>? settings = null)
    {
        var builder = GeoService.CreateBuilder("geo-region", DefaultUrls, args, configuration =>
        {
            if (settings is not null)
            {
                configuration.AddInMemoryCollection(settings);
            }
        });
        ManagementListener.Add(builder, DefaultManagementUrl);
        var services = builder.Services;
        services.AddOptionsWithValidateOnStart<RegionNodeOptions>().BindConfiguration(RegionNodeOptions.Section).ValidateDataAnnotations();
        services.AddSingleton<IConfigurationCheck, RegionNodeConfigurationCheck>();
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<Metrics>();
        services.AddSingleton(sp => new SecretBox(SecretKeyring.Load(sp.GetRequiredService<IOptions<RegionNodeOptions>>().Value.KeyringFile)));
        // The one way into the directory: its store, and one client following it (control plane only: the node
        // looks placements up in batches of its own).
        services.AddSingleton<IDirectoryStore>(sp => new PostgresDirectoryStore(sp.GetRequiredService<IOptions<RegionNodeOptions>>().Value.DirectoryConnectionString));
        services.AddSingleton(sp => new DirectoryCache(sp.GetRequiredService<IDirectoryStore>(), sp.GetRequiredService<ILogger<DirectoryCache>>(),
            sp.GetRequiredService<TimeProvider>(), new DirectoryCacheOptions { Placements = false }));
        services.AddSingleton<OwnerLeases>();
        services.AddSingleton(sp => new ShardCatalog(
            sp.GetRequiredService<IOptions<RegionNodeOptions>>(),
            sp.GetRequiredService<SecretBox>(),
            shard => new AccountingWriter(shard, sp.GetRequiredService<IRegionCache>(), sp.GetRequiredService<ExhaustionDispatcher>().Dispatch,
                sp.GetRequiredService<Metrics>(), sp.GetRequiredService<TimeProvider>(),
                sp.GetRequiredService<IOptions<RegionNodeOptions>>().Value, sp.GetRequiredService<ILogger<AccountingWriter>>()),
            sp.GetRequiredService<DirectoryCache>(),
            sp.GetRequiredService<OwnerLeases>(),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILogger<ShardCatalog>>()));
        services.AddSingleton<DirectoryFailsafe>();
        services.AddSingleton<OwnerHealth>();
        services.AddHostedService<OwnerHeartbeat>();
        services.AddSingleton<SurvivalJournal>();
        services.AddHostedService<JournalReplay>();
        services.AddSingleton<RedisRegionCache>();
        services.AddSingleton<IRegionCache>(sp => sp.GetRequiredService<RedisRegionCache>());
        services.AddSingleton<SubscriberLocator>();
        services.AddSingleton<ProfileStore>();
        services.AddSingleton<AuthenticationHandler>();
        services.AddSingleton<AccountingHandler>();
        services.AddSingleton<RegionForwarder>();
        services.AddSingleton<ChangeRequestSender>();
        services.AddHostedService(sp => sp.GetRequiredService<ChangeRequestSender>());
        services.AddSingleton<ExhaustionDispatcher>();
        services.AddSingleton<RadiusServer>();
        services.AddHostedService(sp => sp.GetRequiredService<RadiusServer>());
        services.AddHostedService<RegionNodeBackground>();
        ApiSetup.AddApi(services);

        var app = builder.Build();
        ManagementListener.Use(app);
        HealthEndpoints.Map(app);
        HealthEndpoints.MapFailsafe(app);
        ApiSetup.MapApi(app);
        return new RegionNodeServer(app);
    }

    /// <summary>Starts listening (RADIUS after the shard map has loaded).</summary>
    public Task StartAsync(CancellationToken cancellationToken = default) => _app.StartAsync(cancellationToken);

    /// <summary>Stops gracefully: no new requests, in-flight ones finished and committed, then exit.</summary>
    public Task StopAsync(CancellationToken cancellationToken = default) => _app.StopAsync(cancellationToken);

    /// <summary>Runs until SIGTERM/SIGINT, then stops gracefully.</summary>
    public Task RunAsync() => _app.RunAsync();

    /// <inheritdoc />
    public IReadOnlyList<string> ConfigurationFiles => GeoService.ConfigurationFiles(_app.Configuration);

    /// <inheritdoc />
    public IReadOnlyList<string> CheckConfiguration() => GeoService.CheckConfiguration(_app.Services);

    internal IServiceProvider Services => _app.Services;

    public ValueTask DisposeAsync() => _app.DisposeAsync();
}

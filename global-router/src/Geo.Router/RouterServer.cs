using Geo.Directory;
using Geo.Directory.Placement;
using Geo.Directory.Regions;
using Geo.Directory.Stores.Consul;
using Geo.Directory.Stores.Postgres;
using Geo.Hosting;
using Geo.Router.Access;
using Geo.Router.Forwarding;
using Geo.Router.Hosting;
using Geo.Router.Listing;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Options;

namespace Geo.Router;

/// <summary>
/// geo-router in one object: Kestrel, the directory cache, region health checks and the YARP forwarder.
/// <c>Program.cs</c> runs one; tests and benchmarks construct one in-process (optionally over their own store).
/// </summary>
public sealed class RouterServer : IGeoServer
{
    private readonly WebApplication _app;

    private RouterServer(WebApplication app) => _app = app;

    /// <summary>Where the router listens when nothing else is configured (<c>--urls</c>).</summary>
    public const string DefaultUrls = "http://127.0.0.1:8080";

    /// <summary>
    /// Builds a router from <paramref name="args"/> (configuration section <c>Router</c>, see
    /// <see cref="RouterOptions"/>), then <paramref name="configure"/>. With <paramref name="store"/> the router uses
    /// that directory store instead of the configured one (and does not dispose it).
    /// </summary>
    public static RouterServer Create(string[] args, Action<RouterOptions>? configure = null, IDirectoryStore? store = null)
    {
        var builder = GeoService.CreateBuilder("geo-router", DefaultUrls, args);
        var services = builder.Services;
        services.AddOptionsWithValidateOnStart<RouterOptions>().BindConfiguration("Router").PostConfigure(o => configure?.Invoke(o));
        services.AddSingleton<IValidateOptions<RouterOptions>>(new RouterOptionsValidator(store is not null));
        services.AddSingleton<IConfigurationCheck, RouterConfigurationCheck>();
        services.AddSingleton(TimeProvider.System);
        if (store is null)
        {
            // Created here, so the container disposes it at shutdown; an injected store stays its caller's.
            services.AddSingleton(sp => CreateStore(sp.GetRequiredService<IOptions<RouterOptions>>().Value));
        }

        services.AddSingleton(sp => new DirectoryCache(
            store ?? sp.GetRequiredService<IDirectoryStore>(), sp.GetRequiredService<ILogger<DirectoryCache>>(), sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton(sp =>
        {
            var options = sp.GetRequiredService<IOptions<RouterOptions>>().Value;
            return new RegionHealthMonitor(
                sp.GetRequiredService<DirectoryCache>(),
                new RegionHealthOptions
                {
                    Interval = options.HealthCheckInterval,
                    Timeout = options.HealthCheckTimeout,
                    UnhealthyThreshold = options.HealthCheckFailureThreshold,
                },
                sp.GetRequiredService<ILogger<RegionHealthMonitor>>(),
                sp.GetRequiredService<TimeProvider>());
        });
        services.AddSingleton(sp => new PlacementService(sp.GetRequiredService<DirectoryCache>()));
        services.AddSingleton<RegionInvoker>();
        services.AddSingleton<SubscriberProxy>();
        services.AddSingleton<SubscriberListing>();
        services.AddSingleton<TenantAuthenticator>();
        services.AddSingleton<OrphanSweepService>();
        services.AddSingleton(sp => new TenantAdmin(store ?? sp.GetRequiredService<IDirectoryStore>(), sp.GetRequiredService<IOptions<RouterOptions>>()));
        services.AddSingleton<AdminAudit>();
        services.AddSingleton<Console.ConsoleSessions>();
        services.AddSingleton<Console.ShardSampler>();
        services.AddHostedService(sp => sp.GetRequiredService<Console.ShardSampler>());
        services.AddHttpForwarder();
        services.AddHostedService<DirectoryHostedService>();
        services.AddHostedService(sp => sp.GetRequiredService<OrphanSweepService>());

        var app = builder.Build();
        GeoService.MapMetrics(app);
        RouterEndpoints.Map(app);
        AdminEndpoints.Map(app);
        Console.ConsoleEndpoints.Map(app);
        return new RouterServer(app);
    }

    /// <summary>Where the router listens (known after <see cref="StartAsync"/>; with port 0, the port chosen).</summary>
    public Uri Url => new(_app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());

    internal DirectoryCache Directory => _app.Services.GetRequiredService<DirectoryCache>();

    internal RegionHealthMonitor Health => _app.Services.GetRequiredService<RegionHealthMonitor>();

    internal OrphanSweepService OrphanSweep => _app.Services.GetRequiredService<OrphanSweepService>();

    /// <summary>Loads the directory, starts health checks, then listens.</summary>
    public Task StartAsync(CancellationToken cancellationToken = default) => _app.StartAsync(cancellationToken);

    /// <summary>Stops listening (in-flight requests finish).</summary>
    public Task StopAsync(CancellationToken cancellationToken = default) => _app.StopAsync(cancellationToken);

    /// <summary>Runs until the process is told to stop (SIGTERM, Ctrl+C).</summary>
    public Task RunAsync(CancellationToken cancellationToken = default) => _app.RunAsync(cancellationToken);

    Task IGeoServer.RunAsync() => RunAsync();

    /// <inheritdoc />
    public IReadOnlyList<string> ConfigurationFiles => GeoService.ConfigurationFiles(_app.Configuration);

    /// <inheritdoc />
    public IReadOnlyList<string> CheckConfiguration() => GeoService.CheckConfiguration(_app.Services);

    /// <summary>Stops and releases everything the router holds.</summary>
    public ValueTask DisposeAsync() => _app.DisposeAsync();

    private static IDirectoryStore CreateStore(RouterOptions options) => options.DirectoryStore switch
    {
        "consul" => new ConsulDirectoryStore(options.Consul),
        _ => new PostgresDirectoryStore(options.DirectoryConnectionString!),
    };
}

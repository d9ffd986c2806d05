using System.Diagnostics.Metrics;
using Geo.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Geo.Replication.Hosting;

/// <summary>
/// The geo-replicator process: a <see cref="ShardReplicator"/> per shard (<see cref="ReplicatorRuntime"/>), health endpoints and,
/// on the management listener, <c>/metrics</c>, configured by <see cref="ReplicatorOptions"/>. SIGTERM lets each shard finish and acknowledge its batch.
/// </summary>
public sealed class ReplicatorServer : IGeoServer
{
    private readonly WebApplication _app;

    private ReplicatorServer(WebApplication app) => _app = app;

    /// <summary>Where the health endpoints listen when nothing else is configured (<c>--urls</c>).</summary>
    public const string DefaultUrls = "http://127.0.0.1:9464";

    /// <summary>Where <c>/metrics</c> (and health) listen when nothing else is configured (<c>Management:Url</c>).</summary>
    public const string DefaultManagementUrl = "http://127.0.0.1:9465";

    /// <summary>The management listener's address (after start): <c>/metrics</c>.</summary>
    public Uri? ManagementAddress => _app.Services.GetRequiredService<ManagementListener>().Address;

    /// <summary>The replicator's runtime: its shards and their status.</summary>
    public ReplicatorRuntime Runtime => _app.Services.GetRequiredService<ReplicatorRuntime>();

    /// <summary>The address the HTTP endpoint listens on (after start).</summary>
    public Uri? HttpAddress =>
        _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses.Select(a => new Uri(a)).FirstOrDefault();

    /// <summary>
    /// Builds the server from command-line arguments and the usual configuration sources (plus <paramref name="configure"/>);
    /// <paramref name="services"/> adds services, such as the Kafka source (<c>AddKafkaSource</c>).
    /// </summary>
    public static ReplicatorServer Create(string[] args, Action<IConfigurationBuilder>? configure = null, Action<IServiceCollection>? services = null)
    {
        var builder = GeoService.CreateBuilder("geo-replicator", DefaultUrls, args, configure);
        ManagementListener.Add(builder, DefaultManagementUrl);
        builder.Services.AddOptionsWithValidateOnStart<ReplicatorOptions>().BindConfiguration("Replication");
        builder.Services.AddSingleton<IValidateOptions<ReplicatorOptions>, ReplicatorOptionsValidator>();
        builder.Services.AddSingleton<IConfigurationCheck, ReplicatorConfigurationCheck>();
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<ReplicatorRuntime>();
        services?.Invoke(builder.Services);
        builder.Services.AddHostedService(services => services.GetRequiredService<ReplicatorRuntime>());

        var app = builder.Build();
        ManagementListener.Use(app);
        // Resolved at the first scrape, not here: the runtime and the options are validated when the host starts.
        ReplicationMetrics.Create(app.Services.GetRequiredService<IMeterFactory>(), () => app.Services.GetRequiredService<ReplicatorRuntime>().Status,
            () => app.Services.GetRequiredService<IOptions<ReplicatorOptions>>().Value.LagWarningSeconds);
        // The lag series name every shard the replicator streams: for operators, on the management listener.
        GeoService.MapMetrics(app).RequireManagementListener();
        GeoService.MapHealth(app, context =>
        {
            var notStreaming = context.RequestServices.GetRequiredService<ReplicatorRuntime>().Status
                .Where(s => s.State != ShardState.Streaming).Select(s => $"{s.Shard}: {s.State} {s.LastError}").ToList();
            return Task.FromResult(new HealthReport(notStreaming.Count == 0, new Dictionary<string, object?> { ["not_streaming"] = notStreaming }));
        });
        return new ReplicatorServer(app);
    }

    /// <summary>Starts the shards and the HTTP endpoint.</summary>
    public Task StartAsync(CancellationToken cancellationToken = default) => _app.StartAsync(cancellationToken);

    /// <summary>Stops gracefully.</summary>
    public Task StopAsync(CancellationToken cancellationToken = default) => _app.StopAsync(cancellationToken);

    /// <summary>Runs until SIGTERM/SIGINT.</summary>
    public Task RunAsync() => _app.RunAsync();

    /// <inheritdoc />
    public IReadOnlyList<string> ConfigurationFiles => GeoService.ConfigurationFiles(_app.Configuration);

    /// <inheritdoc />
    public IReadOnlyList<string> CheckConfiguration() => GeoService.CheckConfiguration(_app.Services);

    /// <inheritdoc />
    public ValueTask DisposeAsync() => _app.DisposeAsync();
}

using System.Diagnostics.Metrics;
using System.Text.Json;
using Geo.Hosting.Telemetry;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Configuration.CommandLine;
using Microsoft.Extensions.Configuration.Memory;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Geo.Hosting;

/// <summary>
/// Shared defaults of geo-region, geo-router and geo-replicator, so all three are configured, logged and probed alike.
/// Content root is the program's folder, never the working directory; configuration, lowest first: defaults, <c>appsettings.json</c>,
/// environment (also <c>GEO_</c>-prefixed), command line. Metrics: the host's <see cref="IMeterFactory"/> (<see cref="System.Diagnostics.Metrics"/>) via <see cref="MapMetrics"/>.
/// </summary>
public static class GeoService
{
    /// <summary>The prefix of Geo's own environment variables.</summary>
    public const string EnvironmentPrefix = "GEO_";

    /// <summary>The time a service has to finish in-flight work after SIGTERM.</summary>
    public static readonly TimeSpan ShutdownTimeout = TimeSpan.FromSeconds(30);

    /// <summary>The defaults below everything an operator configures.</summary>
    internal static Dictionary<string, string?> Defaults(string defaultUrls) => new(StringComparer.OrdinalIgnoreCase)
    {
        [WebHostDefaults.ServerUrlsKey] = defaultUrls,
        ["Logging:LogLevel:Default"] = "Information",
        ["Logging:LogLevel:Microsoft"] = "Warning",
        ["Logging:LogLevel:Microsoft.Hosting.Lifetime"] = "Information",
        ["Logging:LogLevel:Yarp"] = "Warning",
        ["Logging:LogLevel:System.Net.Http.HttpClient"] = "Warning",
        ["Logging:Console:FormatterName"] = "simple",
        ["Logging:Console:FormatterOptions:SingleLine"] = "true",
        ["Logging:Console:FormatterOptions:TimestampFormat"] = "yyyy-MM-ddTHH:mm:ss.fffZ ",
        ["Logging:Console:FormatterOptions:UseUtcTimestamp"] = "true",
        ["Logging:Console:FormatterOptions:IncludeScopes"] = "false",
    };

    /// <summary>
    /// A web application builder with Geo's defaults for the service <paramref name="name"/> (its program name, shown
    /// by the health endpoints), listening on <paramref name="defaultUrls"/> unless configured otherwise;
    /// <paramref name="configure"/> adds the caller's own configuration sources last (tests, benchmarks).
    /// </summary>
    public static WebApplicationBuilder CreateBuilder(string name, string defaultUrls, string[] args, Action<IConfigurationBuilder>? configure = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            Args = args,
            ApplicationName = name,
            // The host watches its content root and every folder below it: the program's folder, never the working directory
            // (one holding a PostgreSQL data folder woke the service on every WAL write).
            ContentRootPath = AppContext.BaseDirectory,
        });

        var sources = builder.Configuration.Sources;
        sources.Insert(0, new MemoryConfigurationSource { InitialData = Defaults(defaultUrls) });
        // GEO_ variables rank with the environment: above appsettings.json, below the command line.
        var commandLine = sources.ToList().FindIndex(s => s is CommandLineConfigurationSource);
        var geoVariables = new ConfigurationBuilder().AddEnvironmentVariables(EnvironmentPrefix).Sources[0];
        sources.Insert(commandLine < 0 ? sources.Count : commandLine, geoVariables);
        configure?.Invoke(builder.Configuration);

        builder.Logging.AddConsole();
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = ShutdownTimeout);
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.AddServerHeader = false);
        builder.Services.AddMetrics();
        builder.Services.AddSingleton<PrometheusExporter>();
        return builder;
    }

    /// <summary>
    /// Maps <c>/metrics</c>: every instrument of the host's meters (<see cref="System.Diagnostics.Metrics.IMeterFactory"/>)
    /// and the runtime's garbage-collection figures, in the Prometheus text format. Call it before the host starts, so
    /// that no measurement is missed. <see cref="ManagementListenerExtensions.RequireManagementListener{TBuilder}"/> on the
    /// result keeps it off the main listener.
    /// </summary>
    public static RouteHandlerBuilder MapMetrics(WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var exporter = app.Services.GetRequiredService<PrometheusExporter>();
        RuntimeMetrics.Create(app.Services.GetRequiredService<IMeterFactory>());
        return app.MapGet("/metrics", () => Results.Text(exporter.Render(), "text/plain; version=0.0.4"));
    }

    /// <summary>
    /// Maps <c>/health/live</c> (the process answers) and <c>/health/ready</c> (<paramref name="ready"/> says whether it
    /// can serve). Both answer JSON: <c>{"status":"live"|"ready"|"not_ready","service":"geo-…", …details}</c>, 200 or 503.
    /// </summary>
    public static void MapHealth(WebApplication app, Func<HttpContext, Task<HealthReport>> ready)
    {
        ArgumentNullException.ThrowIfNull(app);
        ArgumentNullException.ThrowIfNull(ready);
        var service = app.Environment.ApplicationName;
        app.MapGet("/health/live", () => Write("live", service, null, StatusCodes.Status200OK));
        app.MapGet("/health/ready", async (HttpContext context) =>
        {
            var report = await ready(context);
            return Write(report.Ready ? "ready" : "not_ready", service, report.Details, report.Ready ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable);
        });
    }

    private static IResult Write(string status, string service, IReadOnlyDictionary<string, object?>? details, int statusCode)
    {
        var body = new Dictionary<string, object?>(StringComparer.Ordinal) { ["status"] = status, ["service"] = service };
        foreach (var (key, value) in details ?? new Dictionary<string, object?>())
        {
            body[key] = value;
        }

        return Results.Text(JsonSerializer.Serialize(body), "application/json", statusCode: statusCode);
    }
}

/// <summary>A service's readiness and what it checked (each detail a JSON value: "ok", "down", a list …).</summary>
public sealed record HealthReport(bool Ready, IReadOnlyDictionary<string, object?> Details)
{
    /// <summary>Ready, with nothing more to say.</summary>
    public static HealthReport Ok { get; } = new(true, new Dictionary<string, object?>());
}

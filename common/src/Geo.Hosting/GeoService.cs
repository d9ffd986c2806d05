using System.Diagnostics.Metrics;
using System.Text.Json;
using System.Text.RegularExpressions;
using Geo.Hosting.Telemetry;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Configuration.CommandLine;
using Microsoft.Extensions.Configuration.Json;
using Microsoft.Extensions.Configuration.Memory;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.FileProviders;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Geo.Hosting;

/// <summary>
/// Shared defaults of geo-region, geo-router and geo-replicator, so all three are configured, logged and probed alike.
/// Content root is the program's folder, never the working directory; configuration, lowest first: defaults, <c>appsettings.json</c>,
/// the file named by <c>ConfigFile</c> (an installed service's <c>/etc/geo/&lt;name&gt;.json</c>), environment (also <c>GEO_</c>-prefixed),
/// command line. <see cref="RunAsync"/> runs a server, or with <c>--check-config</c> only checks its configuration. Metrics: the host's <see cref="IMeterFactory"/> (<see cref="System.Diagnostics.Metrics"/>) via <see cref="MapMetrics"/>.
/// </summary>
public static partial class GeoService
{
    /// <summary>The prefix of Geo's own environment variables.</summary>
    public const string EnvironmentPrefix = "GEO_";

    /// <summary>The setting naming an operator's configuration file, above <c>appsettings.json</c> and below the environment.</summary>
    public const string ConfigFileKey = "ConfigFile";

    /// <summary>The flag that checks the configuration instead of running: every problem reported, exit 0 or 1.</summary>
    public const string CheckConfigFlag = "--check-config";

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
        if (builder.Configuration[ConfigFileKey] is { Length: > 0 } configFile)
        {
            // Above the program's own appsettings.json (the last JSON file source), below the environment and command line.
            var path = Path.GetFullPath(configFile);
            var lastJson = sources.ToList().FindLastIndex(s => s is JsonConfigurationSource);
            sources.Insert(lastJson + 1, new JsonConfigurationSource
            {
                FileProvider = new PhysicalFileProvider(Path.GetDirectoryName(path)!),
                Path = Path.GetFileName(path),
                Optional = false,
            });
        }

        configure?.Invoke(builder.Configuration);

        builder.Logging.AddConsole();
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = ShutdownTimeout);
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.AddServerHeader = false);
        builder.Services.AddMetrics();
        builder.Services.AddSingleton<PrometheusExporter>();
        return builder;
    }

    /// <summary>
    /// A service's <c>Main</c>: runs the server <paramref name="create"/> builds from <paramref name="args"/> until SIGTERM;
    /// with <see cref="CheckConfigFlag"/> among the arguments, only builds it and checks its configuration
    /// (<see cref="CheckConfiguration"/>): one line on <paramref name="output"/> and exit 0 when it holds, every problem on
    /// <paramref name="error"/> and exit 1 when not. Nothing is started or connected to.
    /// </summary>
    public static async Task<int> RunAsync(string name, string[] args, Func<string[], IGeoServer> create, TextWriter? output = null, TextWriter? error = null)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(create);
        if (!args.Contains(CheckConfigFlag, StringComparer.Ordinal))
        {
            await using var server = create(args);
            await server.RunAsync();
            return 0;
        }

        output ??= Console.Out;
        error ??= Console.Error;
        IReadOnlyList<string> problems;
        IReadOnlyList<string> files = [];
        try
        {
            await using var server = create([.. args.Where(a => a != CheckConfigFlag)]);
            problems = server.CheckConfiguration();
            files = server.ConfigurationFiles;
        }
#pragma warning disable CA1031 // Whatever building the server throws is a configuration problem to report, not a crash.
        catch (Exception e)
#pragma warning restore CA1031
        {
            // Options a server reads while it is built (its endpoints' settings) fail here, not in CheckConfiguration.
            problems = e is OptionsValidationException invalid ? [.. Failures(invalid)] : [Describe(e)];
        }

        if (problems.Count == 0)
        {
            await output.WriteLineAsync($"{name}: configuration OK ({string.Join(", ", files.DefaultIfEmpty("defaults only"))})");
            return 0;
        }

        foreach (var problem in problems)
        {
            await error.WriteLineAsync($"{name}: {problem}");
        }

        await error.WriteLineAsync($"{name}: {problems.Count} configuration problem{(problems.Count == 1 ? "" : "s")}");
        return 1;
    }

    /// <summary>
    /// Every problem of the configuration <paramref name="services"/> were built from: each options class validated on
    /// start, then each <see cref="IConfigurationCheck"/>. Nothing is started.
    /// </summary>
    public static IReadOnlyList<string> CheckConfiguration(IServiceProvider services)
    {
        ArgumentNullException.ThrowIfNull(services);
        var problems = new List<string>();
        try
        {
            services.GetService<IStartupValidator>()?.Validate();
        }
        catch (OptionsValidationException e)
        {
            problems.AddRange(Failures(e));
        }
        catch (AggregateException e)
        {
            problems.AddRange(e.InnerExceptions.SelectMany(inner => inner is OptionsValidationException invalid ? Failures(invalid) : [Describe(inner)]));
        }
        catch (InvalidOperationException e)
        {
            // A value the binder cannot convert ("abc" for a port) fails before any validation runs.
            problems.Add(Describe(e));
        }

        foreach (var check in services.GetServices<IConfigurationCheck>())
        {
            try
            {
                problems.AddRange(check.Check());
            }
            catch (OptionsValidationException)
            {
                // Its options are invalid, which is reported above; the check has nothing sound to look at.
            }
        }

        return problems;
    }

    /// <summary>The configuration files <paramref name="configuration"/> was read from, in the order they apply.</summary>
    public static IReadOnlyList<string> ConfigurationFiles(IConfiguration configuration) =>
        configuration is not IConfigurationRoot root ? [] : [.. root.Providers.OfType<JsonConfigurationProvider>()
            .Select(p => p.Source.FileProvider?.GetFileInfo(p.Source.Path ?? "") is { Exists: true, PhysicalPath: { } path } ? path : null)
            .OfType<string>()];

    /// <summary>Each failure as a line naming the setting: data annotations' wording becomes <c>Section:Member: error</c>.</summary>
    private static IEnumerable<string> Failures(OptionsValidationException e) => e.Failures.Select(failure =>
        DataAnnotationFailure().Match(failure) is { Success: true } match
            ? $"{match.Groups["type"].Value.Replace("Options", "", StringComparison.Ordinal)}:{match.Groups["member"].Value}: {match.Groups["error"].Value}"
            : failure);

    [GeneratedRegex(@"^DataAnnotation validation failed for '(?<type>\w+)' members: '(?<member>[^']+)' with the error: '(?<error>.*)'\.$")]
    private static partial Regex DataAnnotationFailure();

    private static string Describe(Exception e) => e.InnerException is { } inner && !e.Message.Contains(inner.Message, StringComparison.Ordinal)
        ? $"{e.Message} {inner.Message}"
        : e.Message;

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

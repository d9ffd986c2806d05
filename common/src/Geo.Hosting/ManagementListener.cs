using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;

namespace Geo.Hosting;

/// <summary>
/// A second HTTP listener for operators (setting <c>Management:Url</c>, by default a loopback port): endpoints marked with
/// <see cref="ManagementListenerExtensions.RequireManagementListener{TBuilder}"/> (<c>/metrics</c>, the OpenAPI document)
/// answer only there and 404 on the main listener (<c>Urls</c>), which clients and load balancers reach. Health answers on both.
/// Connections are told apart by the listener that accepted them, never by a header a client could send.
/// </summary>
public sealed class ManagementListener
{
    /// <summary>The configuration key of the management listener's URL.</summary>
    public const string UrlKey = "Management:Url";

    private static readonly object ConnectionMarker = new();
    private readonly List<ListenOptions> _main = [];
    private ListenOptions? _management;

    private ManagementListener()
    {
    }

    /// <summary>The management listener's address as bound (a port 0 resolved); null before the host starts.</summary>
    public Uri? Address => _management is { IPEndPoint: { Port: > 0 } endPoint } ? new Uri($"http://{Format(endPoint)}") : null;

    /// <summary>Whether the request came in on the management listener.</summary>
    public static bool IsManagement(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        return context.Features.Get<IConnectionItemsFeature>()?.Items.ContainsKey(ConnectionMarker) == true;
    }

    /// <summary>
    /// Listens on the main URLs (<c>Urls</c>, ';'-separated) and on <c>Management:Url</c> (default <paramref name="defaultUrl"/>);
    /// <see cref="Address"/> tells the bound management address. Plain HTTP: TLS, where wanted, ends in front of the service.
    /// </summary>
    public static ManagementListener Add(WebApplicationBuilder builder, string defaultUrl)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var configuration = builder.Configuration;
        var main = configuration[WebHostDefaults.ServerUrlsKey] is { Length: > 0 } urls ? urls : throw new InvalidOperationException("no HTTP address (Urls) is configured");
        var management = configuration[UrlKey] is { Length: > 0 } configured ? configured : defaultUrl;
        // Kestrel binds the listeners below; left set, Urls would only earn a warning that it is overridden.
        configuration[WebHostDefaults.ServerUrlsKey] = "";

        var listener = new ManagementListener();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            foreach (var url in main.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                Listen(kestrel, url, listener._main.Add);
            }

            Listen(kestrel, management, options =>
            {
                listener._management = options;
                options.Use(next => connection =>
                {
                    connection.Items[ConnectionMarker] = true;
                    return next(connection);
                });
            });
        });
        builder.Services.AddSingleton(listener);
        return listener;
    }

    /// <summary>Answers 404 for a management endpoint asked on another listener. Call it before the endpoints run.</summary>
    public static void Use(WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        _ = app.Services.GetRequiredService<ManagementListener>();
        app.Use((context, next) =>
        {
            if (context.GetEndpoint()?.Metadata.GetMetadata<ManagementOnly>() is not null && !IsManagement(context))
            {
                context.Response.StatusCode = StatusCodes.Status404NotFound;
                return Task.CompletedTask;
            }

            return next(context);
        });
    }

    private static void Listen(KestrelServerOptions kestrel, string url, Action<ListenOptions> configure)
    {
        var address = BindingAddress.Parse(url);
        if (!string.Equals(address.Scheme, "http", StringComparison.OrdinalIgnoreCase))
        {
            throw new InvalidOperationException($"'{url}': only http:// addresses are served; terminate TLS in front of the service");
        }

        if (string.Equals(address.Host, "localhost", StringComparison.OrdinalIgnoreCase))
        {
            kestrel.ListenLocalhost(address.Port, configure);
        }
        else if (IPAddress.TryParse(address.Host, out var ip))
        {
            kestrel.Listen(ip, address.Port, configure);
        }
        else
        {
            // '*', '+' or a host name: every interface, as Kestrel does for Urls.
            kestrel.ListenAnyIP(address.Port, configure);
        }
    }

    private static string Format(IPEndPoint endPoint) =>
        endPoint.Address.Equals(IPAddress.Any) || endPoint.Address.Equals(IPAddress.IPv6Any) ? $"127.0.0.1:{endPoint.Port}"
        : endPoint.Address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{endPoint.Address}]:{endPoint.Port}"
        : endPoint.ToString();

    /// <summary>Endpoint metadata: served on the management listener only.</summary>
    internal sealed class ManagementOnly
    {
        public static ManagementOnly Instance { get; } = new();
    }
}

/// <summary>Marks endpoints as the management listener's (see <see cref="ManagementListener"/>).</summary>
public static class ManagementListenerExtensions
{
    /// <summary>Serves the endpoints on the management listener only; elsewhere they answer 404.</summary>
    public static TBuilder RequireManagementListener<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.WithMetadata(ManagementListener.ManagementOnly.Instance);
    }
}

using System.Net.Http.Headers;
using System.Text.Json;
using Geo.Directory;
using Geo.Directory.Placement;
using Geo.Directory.Regions;
using Geo.Directory.Shards;
using Microsoft.Extensions.Options;
using Yarp.ReverseProxy.Forwarder;

namespace Geo.Router.Forwarding;

/// <summary>
/// Forwards a subscriber request to its shard's owner region (a create to the placement's home region) with shard and
/// epoch; a 421 makes the router reload and retry once, so a write never lands in a region that lost the shard.
/// An unreachable region is marked down and its shards answer 503 with Retry-After at once.
/// </summary>
internal sealed partial class SubscriberProxy(
    DirectoryCache directory,
    RegionHealthMonitor health,
    PlacementService placement,
    IHttpForwarder forwarder,
    RegionInvoker invoker,
    IOptions<RouterOptions> options,
    ILogger<SubscriberProxy> logger)
{
    private readonly RouterOptions _options = options.Value;
    private readonly ForwarderRequestConfig _requestConfig = new()
    {
        ActivityTimeout = options.Value.RequestTimeout,
        Version = System.Net.HttpVersion.Version11,
        VersionPolicy = HttpVersionPolicy.RequestVersionOrLower,
    };

    /// <summary>Any request under <c>/tenants/{tenant}/subscribers/{username}</c>.</summary>
    public async Task ForwardAsync(HttpContext context, string tenantId, string username)
    {
        var home = await directory.FindHomeRegionAsync(tenantId, username, context.RequestAborted);
        if (home is null)
        {
            await Problems.WriteAsync(context, StatusCodes.Status404NotFound, $"tenant '{tenantId}' has no subscriber '{username}'");
            return;
        }

        if (HasBody(context.Request))
        {
            // Buffered so that a write refused with 421 can be sent again to the new owner.
            context.Request.EnableBuffering(64 * 1024, _options.MaxRequestBodyBytes);
        }

        await ForwardToShardAsync(context, new ShardKey(tenantId, home), null);
    }

    /// <summary><c>POST /tenants/{tenant}/subscribers</c>: body JSON with <c>username</c> and optionally <c>region</c> or <c>nasId</c>.</summary>
    public async Task CreateAsync(HttpContext context, string tenantId)
    {
        var body = await ReadBodyAsync(context);
        if (body is null)
        {
            return;
        }

        if (!TryReadCreate(body, out var username, out var region, out var nasId))
        {
            await Problems.WriteAsync(context, StatusCodes.Status400BadRequest, "the body must be a JSON object with a string 'username' and optionally 'region' or 'nasId'");
            return;
        }

        // An existing placement wins: a second create of the username goes to its home region, which refuses it.
        var home = await directory.FindHomeRegionAsync(tenantId, username, context.RequestAborted);
        if (home is null)
        {
            var choice = placement.Choose(tenantId, region, nasId);
            if (choice.HomeRegion is null)
            {
                // A tenant, shard or NAS created a moment ago may not have reached this router's snapshot yet: look once more.
                await directory.RefreshAsync(context.RequestAborted);
                choice = placement.Choose(tenantId, region, nasId);
            }

            if (choice.HomeRegion is null)
            {
                var status = choice.Status == PlacementStatus.UnknownTenant ? StatusCodes.Status404NotFound : StatusCodes.Status400BadRequest;
                await Problems.WriteAsync(context, status, choice.Error!);
                return;
            }

            // Checked before the placement is written: a create that cannot be served leaves no orphan behind.
            var key = new ShardKey(tenantId, choice.HomeRegion);
            var route = ShardRoute.Resolve(directory.Current, key, health.IsAvailable);
            if (route.Status != RouteStatus.Routable)
            {
                await Problems.UnavailableAsync(context, key, route, _options.RetryAfterSeconds);
                return;
            }

            var write = await placement.WriteAsync(tenantId, username, choice.HomeRegion, context.RequestAborted);
            home = write.Placement.HomeRegion;
            LogPlaced(tenantId, home, write.Created);
        }

        context.Request.Body = new MemoryStream(body, writable: false);
        context.Request.ContentLength = body.Length;
        await ForwardToShardAsync(context, new ShardKey(tenantId, home), null);
    }

    /// <summary>Forwards to the shard's owner at its epoch; on 421 reloads the directory and tries once more.</summary>
    internal async Task ForwardToShardAsync(HttpContext context, ShardKey key, Uri? destination)
    {
        for (var attempt = 0; ; attempt++)
        {
            var route = ShardRoute.Resolve(directory.Current, key, health.IsAvailable);
            if (route.Status == RouteStatus.UnknownShard)
            {
                await Problems.WriteAsync(context, StatusCodes.Status404NotFound, $"the directory has no shard {key}", key);
                return;
            }

            if (route.Status != RouteStatus.Routable)
            {
                await Problems.UnavailableAsync(context, key, route, _options.RetryAfterSeconds);
                return;
            }

            var shard = route.Shard!;
            var owner = route.Owner!;
            var transformer = new ShardTransformer(shard, owner.Id, destination);
            var error = await forwarder.SendAsync(context, owner.ApiUrl.AbsoluteUri, invoker.Invoker, _requestConfig, transformer, context.RequestAborted);
            if (transformer.Misdirected)
            {
                if (attempt > 0)
                {
                    await Problems.WriteAsync(context, StatusCodes.Status503ServiceUnavailable,
                        $"region {owner.Id} does not own shard {key} at epoch {shard.Epoch} and the directory has nothing newer yet", key, _options.RetryAfterSeconds, shard.Epoch);
                    return;
                }

                LogMisdirected(key, owner.Id, shard.Epoch);
                context.Response.Clear();
                if (context.Request.Body.CanSeek)
                {
                    context.Request.Body.Position = 0;
                }

                await directory.RefreshAsync(context.RequestAborted);
                continue;
            }

            if (error != ForwarderError.None && !context.Response.HasStarted && IsUnreachable(context.Features.Get<IForwarderErrorFeature>()?.Exception))
            {
                // Nothing reached the region: safe to say so at once, and to stop sending it anything until a check passes.
                health.ReportUnreachable(owner.Id);
                LogUnreachable(owner.Id, key, error);
                await Problems.UnavailableAsync(context, key, new ShardRoute(RouteStatus.OwnerDown, shard, owner), _options.RetryAfterSeconds);
            }

            return;
        }
    }

    /// <summary>True when the request never reached the region (connection refused, name unknown, connect timed out).</summary>
    internal static bool IsUnreachable(Exception? exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            if (e is HttpRequestException { HttpRequestError: HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError })
            {
                return true;
            }

            // SocketsHttpHandler's ConnectTimeout surfaces as a cancellation whose cause names it.
            if (e is TimeoutException && e.Message.Contains("ConnectTimeout", StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }

    private static bool HasBody(HttpRequest request) =>
        request.ContentLength > 0 || request.Headers.TransferEncoding.Count > 0;

    private async Task<byte[]?> ReadBodyAsync(HttpContext context)
    {
        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = await context.Request.Body.ReadAsync(chunk, context.RequestAborted)) > 0)
        {
            if (buffer.Length + read > _options.MaxRequestBodyBytes)
            {
                await Problems.WriteAsync(context, StatusCodes.Status413PayloadTooLarge, $"the body exceeds {_options.MaxRequestBodyBytes} bytes");
                return null;
            }

            buffer.Write(chunk, 0, read);
        }

        return buffer.ToArray();
    }

    private static bool TryReadCreate(byte[] body, out string username, out string? region, out string? nasId)
    {
        username = "";
        region = null;
        nasId = null;
        try
        {
            using var document = JsonDocument.Parse(body);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("username", out var user) || user.ValueKind != JsonValueKind.String)
            {
                return false;
            }

            username = user.GetString()!;
            region = OptionalString(root, "region");
            nasId = OptionalString(root, "nasId");
            return username.Length is > 0 and <= 253;
        }
        catch (JsonException)
        {
            return false;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    private static string? OptionalString(JsonElement root, string name) =>
        root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    [LoggerMessage(EventId = 3201, Level = LogLevel.Warning, Message = "Region {Region} unreachable for shard {Shard} ({Error}); its shards answer 503 until a health check passes")]
    private partial void LogUnreachable(string region, ShardKey shard, ForwarderError error);

    [LoggerMessage(EventId = 3202, Level = LogLevel.Information, Message = "Shard {Shard}: region {Region} refused epoch {Epoch}; reloading the directory and retrying once")]
    private partial void LogMisdirected(ShardKey shard, string region, long epoch);

    [LoggerMessage(EventId = 3203, Level = LogLevel.Debug, Message = "Placement in tenant {Tenant}: home region {Region} (new: {Created})")]
    private partial void LogPlaced(string tenant, string region, bool created);
}

/// <summary>The one connection pool to the regions, shared by forwards and fan-outs.</summary>
internal sealed class RegionInvoker : IDisposable
{
    public RegionInvoker(IOptions<RouterOptions> options)
    {
        Handler = new SocketsHttpHandler
        {
            UseProxy = false,
            AllowAutoRedirect = false,
            AutomaticDecompression = System.Net.DecompressionMethods.None,
            UseCookies = false,
            ConnectTimeout = options.Value.ConnectTimeout,
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30),
            EnableMultipleHttp2Connections = true,
            // The router forwards the client's trace headers itself; no second propagation.
            ActivityHeadersPropagator = null,
        };
        Invoker = new HttpMessageInvoker(Handler, disposeHandler: false);
        Client = new HttpClient(Handler, disposeHandler: false) { Timeout = options.Value.RequestTimeout };
        Client.DefaultRequestHeaders.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
    }

    public SocketsHttpHandler Handler { get; }

    /// <summary>For YARP forwards (an HttpClient would buffer responses).</summary>
    public HttpMessageInvoker Invoker { get; }

    /// <summary>For the router's own requests (listing fan-out).</summary>
    public HttpClient Client { get; }

    public void Dispose()
    {
        Client.Dispose();
        Invoker.Dispose();
        Handler.Dispose();
    }
}

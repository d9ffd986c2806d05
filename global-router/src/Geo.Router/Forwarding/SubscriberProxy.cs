using System.Collections.Concurrent;
using System.Net.Http.Headers;
using System.Text.Json;
using Geo.Directory;
using Geo.Directory.Placement;
using Geo.Directory.Regions;
using Geo.Directory.Shards;
using Geo.Router.Access;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;
using Yarp.ReverseProxy.Forwarder;

namespace Geo.Router.Forwarding;

/// <summary>
/// Forwards a subscriber request to its shard's owner region (a create to the placement's home region) with shard and
/// epoch; a 421 makes the router reload and retry once, so a write never lands in a region that lost the shard.
/// An unreachable region is marked down and its shards answer 503 with Retry-After at once; one that does not answer
/// within <see cref="RouterOptions.RegionTimeout"/> gets the same 503. Callers are authenticated before they get here.
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
        ActivityTimeout = options.Value.RegionTimeout,
        Version = System.Net.HttpVersion.Version11,
        VersionPolicy = HttpVersionPolicy.RequestVersionOrLower,
    };

    // Creates in flight in this router, per tenant and username: a failed create may undo its placement only while no
    // other create of the same username can have used it.
    private readonly ConcurrentDictionary<(string Tenant, string Username), bool> _creating = new();

    /// <summary>Any request under <c>/tenants/{tenant}/subscribers/{username}</c>.</summary>
    public async Task ForwardAsync(HttpContext context, string tenantId, string username)
    {
        if (await TooLargeAsync(context))
        {
            return;
        }

        var home = await directory.FindHomeRegionAsync(tenantId, username, context.RequestAborted);
        if (home is null)
        {
            await Problems.NotFoundAsync(context);
            return;
        }

        if (HasBody(context.Request))
        {
            // Buffered so that a write refused with 421 can be sent again to the new owner.
            context.Request.EnableBuffering(64 * 1024, _options.MaxRequestBodyBytes);
        }

        await ForwardToShardAsync(context, new ShardKey(tenantId, home), null);
    }

    /// <summary>
    /// <c>POST /tenants/{tenant}/subscribers</c>: body JSON with <c>username</c> and optionally <c>region</c> or <c>nasId</c>.
    /// The body is checked before the subscriber is placed, and a placement made here is taken back when the region
    /// refuses the create (or never received it); one whose outcome is unknown (timeout) is left to the orphan sweep.
    /// </summary>
    public async Task CreateAsync(HttpContext context, string tenantId)
    {
        var body = await ReadBodyAsync(context);
        if (body is null)
        {
            return;
        }

        if (CreateRequest.Read(body) is not { } create)
        {
            await Problems.WriteAsync(context, StatusCodes.Status400BadRequest, "the body must be well-formed JSON (UTF-8, no lone surrogate escapes) holding an object, e.g. {\"username\":\"alice\",\"region\":\"a\",...}");
            return;
        }

        if (create.Errors.Count > 0)
        {
            await Problems.InvalidAsync(context, create.Errors);
            return;
        }

        var key = (tenantId, create.Username);
        if (!_creating.TryAdd(key, true))
        {
            await Problems.WriteAsync(context, StatusCodes.Status409Conflict, $"a create of '{create.Username}' is in progress; retry once it has finished",
                retryAfterSeconds: _options.RetryAfterSeconds);
            return;
        }

        try
        {
            await CreatePlacedAsync(context, tenantId, create, body);
        }
        finally
        {
            _creating.TryRemove(key, out _);
        }
    }

    private async Task CreatePlacedAsync(HttpContext context, string tenantId, CreateRequest create, byte[] body)
    {
        // An existing placement wins: a second create of the username goes to its home region, which refuses it.
        PlacementWrite? write = null;
        var home = await directory.FindHomeRegionAsync(tenantId, create.Username, context.RequestAborted);
        if (home is null)
        {
            var choice = placement.Choose(tenantId, create.Region, create.NasId);
            if (choice.HomeRegion is null)
            {
                // A tenant, shard or NAS created a moment ago may not have reached this router's snapshot yet: look once more.
                await directory.RefreshAsync(context.RequestAborted);
                choice = placement.Choose(tenantId, create.Region, create.NasId);
            }

            if (choice.HomeRegion is null)
            {
                await WriteUnplaceableAsync(context, choice);
                return;
            }

            // Checked before the placement is written: a create that cannot be served leaves no orphan behind.
            var shard = new ShardKey(tenantId, choice.HomeRegion);
            var route = ShardRoute.Resolve(directory.Current, shard, health.IsAvailable);
            if (route.Status != RouteStatus.Routable)
            {
                await Problems.UnavailableAsync(context, shard, route, _options.RetryAfterSeconds);
                return;
            }

            write = await placement.WriteAsync(tenantId, create.Username, choice.HomeRegion, context.RequestAborted);
            home = write.Placement.HomeRegion;
            LogPlaced(tenantId, home, write.Created);
        }

        context.Request.Body = new MemoryStream(body, writable: false);
        context.Request.ContentLength = body.Length;
        var delivery = await ForwardToShardAsync(context, new ShardKey(tenantId, home), null);
        if (write is { Created: true } && delivery.AppliedNothing)
        {
            // Not RequestAborted: the caller leaving must not leave the placement behind.
            if (await placement.UndoAsync(write, CancellationToken.None))
            {
                LogPlacementUndone(tenantId, home, delivery.RegionStatus ?? 0);
            }
        }
    }

    private static Task WriteUnplaceableAsync(HttpContext context, PlacementChoice choice) => choice.Status switch
    {
        PlacementStatus.UnknownTenant => Problems.NotFoundAsync(context),
        PlacementStatus.UnknownNas => Problems.InvalidAsync(context, new Dictionary<string, string> { ["nasId"] = choice.Error! }),
        _ => Problems.InvalidAsync(context, new Dictionary<string, string> { ["region"] = choice.Error! }),
    };

    /// <summary>Forwards to the shard's owner at its epoch; on 421 reloads the directory and tries once more.</summary>
    internal async Task<Delivery> ForwardToShardAsync(HttpContext context, ShardKey key, Uri? destination)
    {
        for (var attempt = 0; ; attempt++)
        {
            var route = ShardRoute.Resolve(directory.Current, key, health.IsAvailable);
            if (route.Status == RouteStatus.UnknownShard)
            {
                await Problems.NotFoundAsync(context);
                return Delivery.NotSent;
            }

            if (route.Status != RouteStatus.Routable)
            {
                await Problems.UnavailableAsync(context, key, route, _options.RetryAfterSeconds);
                return Delivery.NotSent;
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
                    return new Delivery(true, StatusCodes.Status421MisdirectedRequest);
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

            if (transformer.Hidden)
            {
                // The region does not know the subscriber (or, behind the router's back, the key): the same 404 as ours.
                await Problems.NotFoundAsync(context);
                return new Delivery(true, transformer.RegionStatus);
            }

            if (error == ForwarderError.None || context.Response.HasStarted)
            {
                return new Delivery(true, transformer.RegionStatus);
            }

            return await AnswerFailureAsync(context, key, shard, owner, error);
        }
    }

    /// <summary>The router's own answer to a forward that failed before the region's answer began.</summary>
    private async Task<Delivery> AnswerFailureAsync(HttpContext context, ShardKey key, Shard shard, Region owner, ForwarderError error)
    {
        var exception = context.Features.Get<IForwarderErrorFeature>()?.Exception;
        if (IsUnreachable(exception))
        {
            // Nothing reached the region: safe to say so at once, and to stop sending it anything until a check passes.
            health.ReportUnreachable(owner.Id);
            LogUnreachable(owner.Id, key, error);
            await Problems.UnavailableAsync(context, key, new ShardRoute(RouteStatus.OwnerDown, shard, owner), _options.RetryAfterSeconds);
            return Delivery.NotSent;
        }

        if (IsTooLarge(exception))
        {
            await Problems.WriteAsync(context, StatusCodes.Status413PayloadTooLarge, $"the body exceeds {_options.MaxRequestBodyBytes} bytes");
            return Delivery.NotSent;
        }

        switch (error)
        {
            case ForwarderError.RequestTimedOut:
                // The region took the request and went silent: it may or may not have applied it (retry with the same idempotency key).
                LogTimedOut(owner.Id, key, _options.RegionTimeout);
                await Problems.WriteAsync(context, StatusCodes.Status503ServiceUnavailable,
                    $"region {owner.Id} did not answer for shard {key} within {_options.RegionTimeout.TotalSeconds:0.###} s; retry later (a write may have been applied: retry it with the same idempotency key)",
                    key, _options.RetryAfterSeconds, shard.Epoch);
                return Delivery.Unknown;
            case ForwarderError.RequestBodyClient or ForwarderError.RequestBodyCanceled or ForwarderError.RequestCanceled:
                await Problems.WriteAsync(context, StatusCodes.Status400BadRequest, "the request body could not be read to its end");
                return Delivery.Unknown;
            default:
                await Problems.WriteAsync(context, StatusCodes.Status502BadGateway, $"region {owner.Id} broke off its answer for shard {key} ({error})", key);
                return Delivery.Unknown;
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

    /// <summary>True when reading the client's body stopped at the size limit (the server's, or the replay buffer's).</summary>
    private static bool IsTooLarge(Exception? exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            if (e is BadHttpRequestException { StatusCode: StatusCodes.Status413PayloadTooLarge } ||
                (e is IOException && e.Message.Contains("limit", StringComparison.OrdinalIgnoreCase)))
            {
                return true;
            }
        }

        return false;
    }

    private static bool HasBody(HttpRequest request) =>
        request.ContentLength > 0 || request.Headers.TransferEncoding.Count > 0;

    /// <summary>Refuses a body larger than the router buffers: at once when its length is declared, else while it is read.</summary>
    private async Task<bool> TooLargeAsync(HttpContext context)
    {
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = _options.MaxRequestBodyBytes;
        }

        if (context.Request.ContentLength > _options.MaxRequestBodyBytes)
        {
            await Problems.WriteAsync(context, StatusCodes.Status413PayloadTooLarge, $"the body exceeds {_options.MaxRequestBodyBytes} bytes");
            return true;
        }

        return false;
    }

    private async Task<byte[]?> ReadBodyAsync(HttpContext context)
    {
        if (await TooLargeAsync(context))
        {
            return null;
        }

        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int read;
        try
        {
            while ((read = await context.Request.Body.ReadAsync(chunk, context.RequestAborted)) > 0)
            {
                if (buffer.Length + read > _options.MaxRequestBodyBytes)
                {
                    await Problems.WriteAsync(context, StatusCodes.Status413PayloadTooLarge, $"the body exceeds {_options.MaxRequestBodyBytes} bytes");
                    return null;
                }

                buffer.Write(chunk, 0, read);
            }
        }
        catch (BadHttpRequestException ex)
        {
            await Problems.WriteAsync(context, ex.StatusCode, ex.StatusCode == StatusCodes.Status413PayloadTooLarge
                ? $"the body exceeds {_options.MaxRequestBodyBytes} bytes"
                : "the request body could not be read to its end");
            return null;
        }

        return buffer.ToArray();
    }

    [LoggerMessage(EventId = 3201, Level = LogLevel.Warning, Message = "Region {Region} unreachable for shard {Shard} ({Error}); its shards answer 503 until a health check passes")]
    private partial void LogUnreachable(string region, ShardKey shard, ForwarderError error);

    [LoggerMessage(EventId = 3202, Level = LogLevel.Information, Message = "Shard {Shard}: region {Region} refused epoch {Epoch}; reloading the directory and retrying once")]
    private partial void LogMisdirected(ShardKey shard, string region, long epoch);

    [LoggerMessage(EventId = 3203, Level = LogLevel.Debug, Message = "Placement in tenant {Tenant}: home region {Region} (new: {Created})")]
    private partial void LogPlaced(string tenant, string region, bool created);

    [LoggerMessage(EventId = 3204, Level = LogLevel.Warning, Message = "Region {Region} did not answer for shard {Shard} within {Timeout}; answered 503")]
    private partial void LogTimedOut(string region, ShardKey shard, TimeSpan timeout);

    [LoggerMessage(EventId = 3205, Level = LogLevel.Information, Message = "Placement in tenant {Tenant} (home region {Region}) taken back: the create was refused ({Status})")]
    private partial void LogPlacementUndone(string tenant, string region, int status);
}

/// <summary>What became of a forward: whether it reached the region, and what the region answered.</summary>
/// <param name="Reached">False when the region cannot have applied anything (not sent, or the connection was refused).</param>
/// <param name="RegionStatus">The region's status code; null when reached but unanswered (timed out, broken off).</param>
internal readonly record struct Delivery(bool Reached, int? RegionStatus)
{
    public static Delivery NotSent => new(false, null);

    public static Delivery Unknown => new(true, null);

    /// <summary>
    /// Certain to have changed nothing: never sent, or refused with a 4xx other than 409 (which means "exists": a
    /// concurrent create may have made the row this placement now serves).
    /// </summary>
    public bool AppliedNothing => !Reached || RegionStatus is >= 400 and < 500 and not StatusCodes.Status409Conflict;
}

/// <summary>The fields of a create the router uses, and what is wrong with them.</summary>
internal sealed record CreateRequest(string Username, string? Region, string? NasId, IReadOnlyDictionary<string, string> Errors)
{
    /// <summary>Null when the body is not a JSON object at all (400); otherwise <see cref="Errors"/> lists bad fields (422).</summary>
    public static CreateRequest? Read(byte[] body)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return null;
            }

            var errors = new Dictionary<string, string>(StringComparer.Ordinal);
            var username = root.TryGetProperty("username", out var user) && user.ValueKind == JsonValueKind.String ? user.GetString()! : "";
            if (!Usernames.IsValid(username))
            {
                errors["username"] = "required: " + Usernames.Rule;
            }

            var region = OptionalString(root, "region", errors);
            var nasId = OptionalString(root, "nasId", errors);
            return new CreateRequest(username, region, nasId, errors);
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException)
        {
            // InvalidOperationException: a string escape that is not Unicode (a lone surrogate).
            return null;
        }
    }

    private static string? OptionalString(JsonElement root, string name, Dictionary<string, string> errors)
    {
        if (!root.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (value.ValueKind != JsonValueKind.String || value.GetString() is not { Length: > 0 and <= 64 } text || !Usernames.IsValid(text))
        {
            errors[name] = "when given, a non-empty string of at most 64 characters";
            return null;
        }

        return text;
    }
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
        Client = new HttpClient(Handler, disposeHandler: false) { Timeout = options.Value.RegionTimeout };
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

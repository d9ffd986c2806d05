using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Geo.Directory;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Geo.Router.IntegrationTests;

/// <summary>
/// A small Kestrel app standing in for a region's API (the real region node comes from the lead): it answers which
/// region it is and the Geo-Shard / Geo-Epoch it was sent, refuses (421) a shard at an epoch the test says it does
/// not own, lists the subscribers the test gave each shard, and can be made unready or stopped.
/// </summary>
internal sealed class RegionStandIn : IAsyncDisposable
{
    private readonly WebApplication _app;
    private bool _stopped;

    private RegionStandIn(string id, WebApplication app)
    {
        Id = id;
        _app = app;
    }

    public string Id { get; }

    public Uri Url => new(_app.Urls.First());

    /// <summary>Whether /health/ready answers 200.</summary>
    public bool Ready { get; set; } = true;

    /// <summary>Whether this region owns a shard at an epoch (default: it owns whatever it is sent).</summary>
    public Func<string, long, bool> Owns { get; set; } = (_, _) => true;

    /// <summary>How a shard not owned at the sent epoch is refused: 421, or 409 "Stale epoch" as the region node does for writes.</summary>
    public int RefusalStatus { get; set; } = StatusCodes.Status421MisdirectedRequest;

    /// <summary>Paths answered with an ordinary 409 conflict (a business error the router must pass on).</summary>
    public HashSet<string> Conflicts { get; } = new(StringComparer.Ordinal);

    /// <summary>When set, a create is refused with this status (as a region refuses a bad body) and nothing is created.</summary>
    public int? CreateRefusal { get; set; }

    /// <summary>When set, every request under /tenants waits for it (or for the caller to give up): a region that hangs.</summary>
    public TaskCompletionSource? Hang { get; set; }

    /// <summary>Paths answered 404 with the region's own words (a placement whose row is gone).</summary>
    public HashSet<string> Missing { get; } = new(StringComparer.Ordinal);

    /// <summary>Called when a create arrives, before it is answered (to look at the directory at that moment).</summary>
    public Func<string, Task<bool>>? OnCreate { get; set; }

    /// <summary>Usernames per shard (tenant@home) for listings.</summary>
    public ConcurrentDictionary<string, List<string>> Subscribers { get; } = new(StringComparer.Ordinal);

    /// <summary>Every request under /tenants that reached this region.</summary>
    public ConcurrentQueue<Seen> Requests { get; } = new();

    /// <summary>What <see cref="OnCreate"/> answered for each create.</summary>
    public ConcurrentQueue<bool> CreateChecks { get; } = new();

    public static async Task<RegionStandIn> StartAsync(string id)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        var region = new RegionStandIn(id, app);
        app.MapGet("/health/ready", () => region.Ready ? Results.Ok() : Results.StatusCode(503));
        app.Map("/tenants/{**rest}", region.HandleAsync);
        await app.StartAsync();
        return region;
    }

    /// <summary>Stops listening: connections are refused from now on.</summary>
    public async Task StopAsync()
    {
        if (!_stopped)
        {
            _stopped = true;
            await _app.StopAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        await _app.DisposeAsync();
    }

    private async Task HandleAsync(HttpContext context)
    {
        var shard = context.Request.Headers[GeoHeaders.Shard].ToString();
        var epoch = long.TryParse(context.Request.Headers[GeoHeaders.Epoch], NumberStyles.None, CultureInfo.InvariantCulture, out var e) ? e : 0;
        using var reader = new StreamReader(context.Request.Body, Encoding.UTF8);
        var body = await reader.ReadToEndAsync();
        var path = context.Request.Path.Value ?? "";
        Requests.Enqueue(new Seen(context.Request.Method, path, context.Request.QueryString.Value ?? "", shard, epoch, body, context.Request.Host.Value ?? ""));
        if (Hang is { } hang)
        {
            await hang.Task.WaitAsync(context.RequestAborted);
        }

        var segments = path.Trim('/').Split('/');
        if (segments.Length == 3 && HttpMethods.IsGet(context.Request.Method))
        {
            // As the region node does: a listing covers every shard of the tenant this region owns.
            await ListAsync(context);
            return;
        }

        if (!Owns(shard, epoch))
        {
            context.Response.StatusCode = RefusalStatus;
            if (RefusalStatus == StatusCodes.Status409Conflict)
            {
                await context.Response.WriteAsJsonAsync(new { status = 409, title = "Stale epoch" });
            }

            return;
        }

        if (Missing.Contains(path))
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            await context.Response.WriteAsJsonAsync(new { status = 404, title = "Subscriber not found", region = Id });
            return;
        }

        if (Conflicts.Contains(path))
        {
            context.Response.StatusCode = StatusCodes.Status409Conflict;
            context.Response.Headers[GeoHeaders.Epoch] = epoch.ToString(CultureInfo.InvariantCulture);
            await context.Response.WriteAsJsonAsync(new { status = 409, title = "Username taken", region = Id });
            return;
        }

        if (segments.Length == 3 && HttpMethods.IsPost(context.Request.Method) && CreateRefusal is { } refusal)
        {
            context.Response.StatusCode = refusal;
            await context.Response.WriteAsJsonAsync(new { status = refusal, title = "Refused by the region" });
            return;
        }

        if (segments.Length == 3 && HttpMethods.IsPost(context.Request.Method))
        {
            using var created = JsonDocument.Parse(body);
            var username = created.RootElement.GetProperty("username").GetString()!;
            if (OnCreate is not null)
            {
                CreateChecks.Enqueue(await OnCreate(username));
            }

            context.Response.StatusCode = StatusCodes.Status201Created;
        }

        await context.Response.WriteAsJsonAsync(new Answer(Id, shard, epoch, context.Request.Method, path, body));
    }

    private async Task ListAsync(HttpContext context)
    {
        var limit = int.Parse(context.Request.Query["limit"].ToString(), CultureInfo.InvariantCulture);
        var cursor = context.Request.Query["cursor"].ToString();
        var after = cursor.Length == 0 ? "" : Encoding.UTF8.GetString(System.Buffers.Text.Base64Url.DecodeFromChars(cursor));
        var page = Subscribers.Values.SelectMany(s => s)
            .Where(u => after.Length == 0 || Utf8Compare(u, after) > 0)
            .Order(Comparer<string>.Create(Utf8Compare))
            .Take(limit + 1)
            .ToList();
        var more = page.Count > limit;
        var items = page.Take(limit).Select(u => new { username = u, region = Id }).ToList();
        await context.Response.WriteAsJsonAsync(new { items, next = more ? items[^1].username : null });
    }

    private static int Utf8Compare(string? x, string? y) => Encoding.UTF8.GetBytes(x!).AsSpan().SequenceCompareTo(Encoding.UTF8.GetBytes(y!));

    public sealed record Seen(string Method, string Path, string Query, string Shard, long Epoch, string Body, string Host);

    public sealed record Answer(string Region, string Shard, long Epoch, string Method, string Path, string Body);
}

using System.Buffers.Text;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Geo.Directory;
using Geo.Directory.Regions;
using Geo.Directory.Shards;
using Geo.Router.Forwarding;
using Microsoft.Extensions.Options;

namespace Geo.Router.Listing;

/// <summary>
/// <c>GET /tenants/{tenant}/subscribers?limit=&amp;cursor=</c>: one request per owner region (<c>Geo-Shard</c>/<c>Geo-Epoch</c>
/// as <c>tenant@home=epoch,...</c>), pages merged by username. If any shard cannot be served it answers 503 with
/// Retry-After, never a silently partial page.
/// </summary>
internal sealed partial class SubscriberListing(
    DirectoryCache directory,
    RegionHealthMonitor health,
    RegionInvoker invoker,
    IOptions<RouterOptions> options,
    ILogger<SubscriberListing> logger)
{
    private readonly RouterOptions _options = options.Value;

    public async Task ListAsync(HttpContext context, string tenantId)
    {
        if (!directory.Current.TryGetTenant(tenantId, out _))
        {
            await Problems.NotFoundAsync(context);
            return;
        }

        var limit = _options.DefaultPageSize;
        if (context.Request.Query.TryGetValue("limit", out var limitText) &&
            (!int.TryParse(limitText, NumberStyles.None, CultureInfo.InvariantCulture, out limit) || limit < 1 || limit > _options.MaxPageSize))
        {
            await Problems.WriteAsync(context, StatusCodes.Status400BadRequest, $"limit must be 1 to {_options.MaxPageSize}");
            return;
        }

        if (!ListingCursor.TryDecode(context.Request.Query["cursor"], out var after))
        {
            await Problems.WriteAsync(context, StatusCodes.Status400BadRequest, "the cursor is not one this router issued");
            return;
        }

        RegionPage[] pages = [];
        for (var attempt = 0; attempt < 2; attempt++)
        {
            var owners = new Dictionary<string, (Region Owner, List<Shard> Shards)>(StringComparer.Ordinal);
            foreach (var shard in directory.Current.ShardsOf(tenantId))
            {
                var route = ShardRoute.Resolve(directory.Current, shard.Key, health.IsAvailable);
                if (route.Status != RouteStatus.Routable)
                {
                    await Problems.UnavailableAsync(context, shard.Key, route, _options.RetryAfterSeconds);
                    return;
                }

                if (!owners.TryGetValue(route.Owner!.Id, out var owned))
                {
                    owners[route.Owner.Id] = owned = (route.Owner, []);
                }

                owned.Shards.Add(route.Shard!);
            }

            pages = await Task.WhenAll(owners.Values.Select(o => FetchAsync(context, tenantId, o.Owner, o.Shards, limit, after)));
            if (attempt == 0 && pages.Any(p => p.Misdirected))
            {
                // A region says it does not own what we think it does: reload the directory and ask again, once.
                DisposeAll(pages);
                await directory.RefreshAsync(context.RequestAborted);
                continue;
            }

            break;
        }

        try
        {
            if (pages.FirstOrDefault(p => p.Unavailable is not null || p.Misdirected) is { } unavailable)
            {
                await Problems.WriteAsync(context, StatusCodes.Status503ServiceUnavailable,
                    unavailable.Unavailable ?? $"region {unavailable.Region} does not own the shards the directory says it does", null, _options.RetryAfterSeconds);
                return;
            }

            if (pages.Any(p => p.Hidden))
            {
                // A region that does not know the tenant or its key (yet): the router's one 404, as for a forward.
                await Problems.NotFoundAsync(context);
                return;
            }

            if (pages.FirstOrDefault(p => p.Failure is not null) is { } failed)
            {
                await Problems.WriteAsync(context, StatusCodes.Status502BadGateway, failed.Failure!);
                return;
            }

            await WriteMergedAsync(context, pages, limit);
        }
        finally
        {
            DisposeAll(pages);
        }
    }

    private static async Task WriteMergedAsync(HttpContext context, RegionPage[] pages, int limit)
    {
        var merged = new List<(string Username, JsonElement Item)>();
        var more = false;
        foreach (var page in pages)
        {
            merged.AddRange(page.Items);
            more |= page.HasMore;
        }

        merged.Sort((x, y) => ListingCursor.Compare(x.Username, y.Username));
        var items = new List<(string Username, JsonElement Item)>(merged.Count);
        foreach (var item in merged)
        {
            // A shard changing hands may be listed by its old and its new owner for a moment: one entry per username.
            if (items.Count == 0 || !string.Equals(items[^1].Username, item.Username, StringComparison.Ordinal))
            {
                items.Add(item);
            }
        }

        more |= items.Count > limit;
        var taken = items.Take(limit).ToList();

        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentType = "application/json";
        context.Response.Headers[GeoHeaders.Region] = string.Join(", ", pages.Select(p => p.Region).Order(StringComparer.Ordinal));
        context.Response.Headers[GeoHeaders.Epoch] = string.Join(", ", pages.SelectMany(p => p.Shards).Order(StringComparer.Ordinal));
        await using var writer = new Utf8JsonWriter(context.Response.Body);
        writer.WriteStartObject();
        writer.WriteStartArray("items");
        foreach (var (_, item) in taken)
        {
            item.WriteTo(writer);
        }

        writer.WriteEndArray();
        if (more && taken.Count > 0)
        {
            writer.WriteString("next", ListingCursor.Encode(taken[^1].Username));
        }
        else
        {
            writer.WriteNull("next");
        }

        writer.WriteEndObject();
    }

    private async Task<RegionPage> FetchAsync(HttpContext context, string tenantId, Region owner, List<Shard> shards, int limit, string? after)
    {
        var expected = shards.Select(s => $"{s.Key}={s.Epoch.ToString(CultureInfo.InvariantCulture)}").ToList();
        var query = $"?limit={limit.ToString(CultureInfo.InvariantCulture)}" + (after is null ? "" : "&cursor=" + Base64Url.EncodeToString(Encoding.UTF8.GetBytes(after)));
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(owner.ApiUrl.AbsoluteUri.TrimEnd('/') + $"/tenants/{Uri.EscapeDataString(tenantId)}/subscribers{query}"));
        request.Headers.TryAddWithoutValidation(GeoHeaders.Shard, string.Join(", ", shards.Select(s => s.Key.ToString())));
        request.Headers.TryAddWithoutValidation(GeoHeaders.Epoch, string.Join(", ", expected));
        if (context.Request.Headers.Authorization is { Count: > 0 } authorization)
        {
            request.Headers.TryAddWithoutValidation("Authorization", (IEnumerable<string?>)authorization);
        }

        HttpResponseMessage response;
        try
        {
            response = await invoker.Client.SendAsync(request, context.RequestAborted);
        }
        catch (Exception ex) when (SubscriberProxy.IsUnreachable(ex))
        {
            health.ReportUnreachable(owner.Id);
            LogRegionUnreachable(owner.Id, tenantId);
            return RegionPage.NotServed(owner.Id, $"region {owner.Id}, owner of {string.Join(", ", shards.Select(s => s.Key.ToString()))}, is unreachable");
        }
        catch (HttpRequestException ex)
        {
            return RegionPage.Failed(owner.Id, $"region {owner.Id} failed: {ex.HttpRequestError}");
        }
        catch (TaskCanceledException) when (!context.RequestAborted.IsCancellationRequested)
        {
            LogRegionTimedOut(owner.Id, tenantId, _options.RegionTimeout);
            return RegionPage.NotServed(owner.Id, $"region {owner.Id} did not answer within {_options.RegionTimeout.TotalSeconds:0.###} s; retry later");
        }

        using (response)
        {
            if (response.StatusCode == HttpStatusCode.MisdirectedRequest)
            {
                return new RegionPage { Region = owner.Id, Misdirected = true };
            }

            if (response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden or HttpStatusCode.NotFound)
            {
                return new RegionPage { Region = owner.Id, Hidden = true };
            }

            if (!response.IsSuccessStatusCode)
            {
                return RegionPage.Failed(owner.Id, $"region {owner.Id} answered {(int)response.StatusCode}");
            }

            var body = await response.Content.ReadAsByteArrayAsync(context.RequestAborted);
            return RegionPage.Parse(owner.Id, expected, body) ?? RegionPage.Failed(owner.Id, $"region {owner.Id} answered a malformed page");
        }
    }

    private static void DisposeAll(RegionPage[] pages)
    {
        foreach (var page in pages)
        {
            page.Document?.Dispose();
        }
    }

    [LoggerMessage(EventId = 3211, Level = LogLevel.Warning, Message = "Listing of tenant {Tenant}: region {Region} unreachable")]
    private partial void LogRegionUnreachable(string region, string tenant);

    [LoggerMessage(EventId = 3212, Level = LogLevel.Warning, Message = "Listing of tenant {Tenant}: region {Region} did not answer within {Timeout}")]
    private partial void LogRegionTimedOut(string region, string tenant, TimeSpan timeout);

    /// <summary>One region's answer to a listing.</summary>
    private sealed class RegionPage
    {
        public string Region { get; init; } = "";

        public IReadOnlyList<string> Shards { get; init; } = [];

        public IReadOnlyList<(string Username, JsonElement Item)> Items { get; init; } = [];

        public bool HasMore { get; init; }

        public JsonDocument? Document { get; init; }

        public bool Misdirected { get; init; }

        public bool Hidden { get; init; }

        public string? Unavailable { get; init; }

        public string? Failure { get; init; }

        public static RegionPage NotServed(string region, string why) => new() { Region = region, Unavailable = why };

        public static RegionPage Failed(string region, string why) => new() { Region = region, Failure = why };

        public static RegionPage? Parse(string region, IReadOnlyList<string> shards, byte[] body)
        {
            JsonDocument document;
            try
            {
                document = JsonDocument.Parse(body);
            }
            catch (JsonException)
            {
                return null;
            }

            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("items", out var itemsElement) || itemsElement.ValueKind != JsonValueKind.Array)
            {
                document.Dispose();
                return null;
            }

            var items = new List<(string, JsonElement)>();
            foreach (var item in itemsElement.EnumerateArray())
            {
                if (item.ValueKind != JsonValueKind.Object || !item.TryGetProperty("username", out var username) || username.ValueKind != JsonValueKind.String)
                {
                    document.Dispose();
                    return null;
                }

                items.Add((username.GetString()!, item));
            }

            var hasMore = root.TryGetProperty("next", out var next) && next.ValueKind != JsonValueKind.Null;
            return new RegionPage { Region = region, Shards = shards, Items = items, HasMore = hasMore, Document = document };
        }
    }
}

using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.WebUtilities;
using Geo.Directory;
using Geo.Directory.Shards;

namespace Geo.Router.Forwarding;

/// <summary>The router's own answers (RFC 9457 problem details): unknown subscriber, bad request, shard unavailable.</summary>
internal static class Problems
{
    public static async Task WriteAsync(HttpContext context, int status, string detail, ShardKey? shard = null, int? retryAfterSeconds = null, long? epoch = null)
    {
        context.Response.Clear();
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/problem+json";
        if (retryAfterSeconds is { } retryAfter)
        {
            context.Response.Headers.RetryAfter = retryAfter.ToString(CultureInfo.InvariantCulture);
        }

        if (epoch is { } e)
        {
            context.Response.Headers[GeoHeaders.Epoch] = e.ToString(CultureInfo.InvariantCulture);
        }

        await using var writer = new Utf8JsonWriter(context.Response.Body);
        writer.WriteStartObject();
        writer.WriteNumber("status", status);
        writer.WriteString("title", ReasonPhrases.GetReasonPhrase(status));
        writer.WriteString("detail", detail);
        if (shard is { } key)
        {
            writer.WriteString("shard", key.ToString());
        }

        writer.WriteEndObject();
    }

    /// <summary>503 with Retry-After at once — never a timeout — for a shard that cannot be served now.</summary>
    public static Task UnavailableAsync(HttpContext context, ShardKey shard, ShardRoute route, int retryAfterSeconds)
    {
        var detail = route.Status switch
        {
            RouteStatus.OwnerDown => $"the owner region ({route.Shard?.OwnerRegion}) of shard {shard} is down and the shard was not promoted",
            RouteStatus.InTransition => $"shard {shard} is changing hands ({route.Shard?.State})",
            _ => $"shard {shard} cannot be served now",
        };
        return WriteAsync(context, StatusCodes.Status503ServiceUnavailable, detail, shard, retryAfterSeconds, route.Shard?.Epoch);
    }
}

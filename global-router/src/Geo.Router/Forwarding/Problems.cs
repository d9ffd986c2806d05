using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.WebUtilities;
using Geo.Directory;
using Geo.Directory.Shards;

namespace Geo.Router.Forwarding;

/// <summary>The router's own answers (RFC 9457 problem details): unknown subscriber, bad request, shard unavailable.</summary>
internal static class Problems
{
    /// <summary>
    /// The one answer to "no such tenant", "not your tenant", "no such subscriber" and "not your subscriber": the same
    /// status, body and headers for each, so that a caller learns nothing about what exists outside its own tenant.
    /// </summary>
    public const string NotFoundDetail =
        "nothing here for this API key: the tenant or subscriber does not exist, or the key is not this tenant's";

    public static Task NotFoundAsync(HttpContext context) => WriteAsync(context, StatusCodes.Status404NotFound, NotFoundDetail);

    /// <summary>401 with the challenge: no bearer key was sent.</summary>
    public static Task UnauthorizedAsync(HttpContext context) =>
        WriteAsync(context, StatusCodes.Status401Unauthorized, "send the tenant's API key as 'Authorization: Bearer <key>'", challenge: "Bearer");

    /// <summary>422: well-formed JSON whose fields cannot be used; <paramref name="errors"/> names each field and what it must be.</summary>
    public static Task InvalidAsync(HttpContext context, IReadOnlyDictionary<string, string> errors) =>
        WriteAsync(context, StatusCodes.Status422UnprocessableEntity, "the body has fields that cannot be used; see 'errors'", errors: errors);

    public static async Task WriteAsync(
        HttpContext context, int status, string detail, ShardKey? shard = null, int? retryAfterSeconds = null, long? epoch = null,
        IReadOnlyDictionary<string, string>? errors = null, string? challenge = null)
    {
        context.Response.Clear();
        if (challenge is not null)
        {
            context.Response.Headers.WWWAuthenticate = challenge;
        }

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

        if (errors is not null)
        {
            writer.WriteStartObject("errors");
            foreach (var (field, problem) in errors)
            {
                writer.WriteString(field, problem);
            }

            writer.WriteEndObject();
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

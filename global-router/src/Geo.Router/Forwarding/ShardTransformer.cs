using System.Globalization;
using System.Net;
using System.Text.Json;
using Geo.Directory;
using Geo.Directory.Shards;
using Yarp.ReverseProxy.Forwarder;

namespace Geo.Router.Forwarding;

/// <summary>
/// Per-request YARP transform: sends the shard and epoch routed by (a region not owning it answers 421 and applies
/// nothing), replaces client-sent Geo-* headers and the client's Host (the region is asked by its own name), labels the
/// answer with region and epoch. A 421 or a 409 "Stale epoch" is not copied to the client: the caller reloads the
/// directory and retries once. Nor is a 401, 403 or 404: the caller answers its one 404 instead, unlabelled.
/// </summary>
internal sealed class ShardTransformer(Shard shard, string ownerRegion, Uri? destination = null) : HttpTransformer
{
    private const int MaxProblemBytes = 64 * 1024;

    private readonly string _epoch = shard.Epoch.ToString(CultureInfo.InvariantCulture);

    /// <summary>Whether the region answered 421 Misdirected Request (its epoch differs from ours).</summary>
    public bool Misdirected { get; private set; }

    /// <summary>Whether the region said "not found" or "not allowed", which the client gets as the router's own 404.</summary>
    public bool Hidden { get; private set; }

    /// <summary>The status code the region answered with; null when it did not answer.</summary>
    public int? RegionStatus { get; private set; }

    public override async ValueTask TransformRequestAsync(HttpContext httpContext, HttpRequestMessage proxyRequest, string destinationPrefix, CancellationToken cancellationToken)
    {
        await base.TransformRequestAsync(httpContext, proxyRequest, destinationPrefix, cancellationToken);
        proxyRequest.Headers.Remove(GeoHeaders.Shard);
        proxyRequest.Headers.Remove(GeoHeaders.Epoch);
        proxyRequest.Headers.Remove(GeoHeaders.Region);
        proxyRequest.Headers.TryAddWithoutValidation(GeoHeaders.Shard, shard.Key.ToString());
        proxyRequest.Headers.TryAddWithoutValidation(GeoHeaders.Epoch, _epoch);
        // Null: the Host header follows the request URI, the region's own address.
        proxyRequest.Headers.Host = null;
        if (destination is not null)
        {
            proxyRequest.RequestUri = destination;
        }
    }

    public override async ValueTask<bool> TransformResponseAsync(HttpContext httpContext, HttpResponseMessage? proxyResponse, CancellationToken cancellationToken)
    {
        RegionStatus = proxyResponse is null ? null : (int)proxyResponse.StatusCode;
        if (proxyResponse?.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden or HttpStatusCode.NotFound)
        {
            Hidden = true;
            return false;
        }

        if (proxyResponse?.StatusCode == HttpStatusCode.MisdirectedRequest)
        {
            Misdirected = true;
            return false;
        }

        if (proxyResponse?.StatusCode == HttpStatusCode.Conflict && await IsStaleEpochAsync(proxyResponse, cancellationToken))
        {
            Misdirected = true;
            return false;
        }

        var copyBody = await base.TransformResponseAsync(httpContext, proxyResponse, cancellationToken);
        httpContext.Response.Headers[GeoHeaders.Region] = ownerRegion;
        httpContext.Response.Headers[GeoHeaders.Epoch] = _epoch;
        return copyBody;
    }

    /// <summary>
    /// A region node answers a write at an epoch it no longer holds with 409 and the problem title "Stale epoch"
    /// (a 409 is otherwise an ordinary conflict, passed on). The small body is read to tell, then put back.
    /// </summary>
    private static async Task<bool> IsStaleEpochAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        if (response.Content.Headers.ContentLength is > MaxProblemBytes)
        {
            return false;
        }

        var body = await response.Content.ReadAsByteArrayAsync(cancellationToken);
        var replacement = new ByteArrayContent(body);
        foreach (var header in response.Content.Headers)
        {
            replacement.Headers.TryAddWithoutValidation(header.Key, header.Value);
        }

        response.Content.Dispose();
        response.Content = replacement;
        try
        {
            using var problem = JsonDocument.Parse(body);
            return problem.RootElement.ValueKind == JsonValueKind.Object &&
                   problem.RootElement.TryGetProperty("title", out var title) &&
                   string.Equals(title.GetString(), "Stale epoch", StringComparison.OrdinalIgnoreCase);
        }
        catch (JsonException)
        {
            return false;
        }
    }
}

using System.Security.Cryptography;
using System.Text;
using Geo.RegionNode.Shards;

namespace Geo.RegionNode.Api;

/// <summary>
/// Every API call is scoped to the tenant in its path and authorized by that tenant's API key
/// (<c>Authorization: Bearer &lt;key&gt;</c>; stored as SHA-256 only). A key of another tenant gets 404,
/// exactly as a tenant that does not exist: one tenant cannot learn anything about another.
/// </summary>
internal sealed class TenantAccess(ShardCatalog catalog) : IEndpointFilter
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        var tenant = http.GetRouteValue("tenant") as string ?? "";
        var header = http.Request.Headers.Authorization.ToString();
        if (!header.StartsWith("Bearer ", StringComparison.Ordinal) || header.Length <= 7)
        {
            return Results.Problem(statusCode: 401, title: "API key required", detail: "Send the tenant's API key as 'Authorization: Bearer <key>'.");
        }

        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(header[7..]), hash);
        if (!catalog.TryGetApiKeyHash(tenant, out var expected) || !CryptographicOperations.FixedTimeEquals(hash, expected))
        {
            return Results.Problem(statusCode: 404, title: "Not found");
        }

        return await next(context);
    }
}

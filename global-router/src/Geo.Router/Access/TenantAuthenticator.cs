using Geo.Directory;
using Geo.Hosting;

namespace Geo.Router.Access;

/// <summary>What the router makes of a request's tenant API key.</summary>
internal enum TenantAccess
{
    /// <summary>The key is the tenant's.</summary>
    Granted,

    /// <summary>No bearer key was sent: 401.</summary>
    NoKey,

    /// <summary>No such tenant, no key issued to it, or another key: one and the same 404.</summary>
    NotFound,
}

/// <summary>
/// Checks a tenant's API key against the hash in the directory snapshot, before the router reads or writes anything
/// of the tenant's. In memory and in constant time; a tenant that does not exist answers exactly as a wrong key does.
/// </summary>
internal sealed class TenantAuthenticator(DirectoryCache directory)
{
    public TenantAccess Check(HttpRequest request, string tenantId)
    {
        if (!BearerKeys.TryRead(request, out var key))
        {
            return TenantAccess.NoKey;
        }

        directory.Current.TryGetTenantApiKeyHash(tenantId, out var expected);
        return BearerKeys.Matches(key, expected) ? TenantAccess.Granted : TenantAccess.NotFound;
    }
}

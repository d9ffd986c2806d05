using System.Net;

namespace Geo.EndToEnd.Tests;

/// <summary>A region's node goes away: its shards are refused at once, the other region's keep being served.</summary>
public sealed class RegionLossTests(TwoRegions stack) : IClassFixture<TwoRegions>
{
    [Fact]
    public async Task RegionAStopped_ItsShardsGet503WithRetryAfter_RegionBStillServes()
    {
        using var api = stack.Api("acme");
        Assert.Equal(HttpStatusCode.OK, (await api.GetAsync("/tenants/acme/subscribers/acme-a-000001")).StatusCode);

        await stack.RegionNode("a").StopAsync(TimeSpan.FromSeconds(30));
        try
        {
            // A stopped node refuses connections: the router answers 503 at once (a node that hangs instead gets the same 503
            // after Router:RegionTimeout). How fast it comes is a benchmark's question, not a loaded 2-core test machine's.
            using var refused = await api.GetAsync("/tenants/acme/subscribers/acme-a-000001");
            using var served = await api.GetAsync("/tenants/acme/subscribers/acme-b-000002");

            Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
            Assert.True(refused.Headers.RetryAfter is not null, "503 without Retry-After");
            Assert.Equal(HttpStatusCode.OK, served.StatusCode);
            Assert.Equal("b", served.Headers.GetValues("Geo-Region").Single());
        }
        finally
        {
            await stack.UpAsync();
        }
    }
}

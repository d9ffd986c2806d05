using System.Diagnostics;
using System.Net;

namespace Geo.EndToEnd.Tests;

/// <summary>A region's node goes away: its shards are refused at once, the other region's keep being served.</summary>
public sealed class RegionLossTests(TwoRegions stack) : IClassFixture<TwoRegions>
{
    [Fact]
    public async Task RegionAStopped_ItsShardsGet503WithRetryAfterFast_RegionBStillServes()
    {
        using var api = stack.Api("acme");
        Assert.Equal(HttpStatusCode.OK, (await api.GetAsync("/tenants/acme/subscribers/acme-a-000001")).StatusCode);

        await stack.RegionNode("a").StopAsync(TimeSpan.FromSeconds(30));
        try
        {
            var clock = Stopwatch.StartNew();
            using var refused = await api.GetAsync("/tenants/acme/subscribers/acme-a-000001");
            var elapsed = clock.Elapsed;
            using var served = await api.GetAsync("/tenants/acme/subscribers/acme-b-000002");

            Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
            Assert.True(refused.Headers.RetryAfter is not null, "503 without Retry-After");
            Assert.True(elapsed < TimeSpan.FromSeconds(1), $"503 took {elapsed.TotalMilliseconds:F0} ms");
            Assert.Equal(HttpStatusCode.OK, served.StatusCode);
            Assert.Equal("b", served.Headers.GetValues("Geo-Region").Single());
        }
        finally
        {
            await stack.UpAsync();
        }
    }
}

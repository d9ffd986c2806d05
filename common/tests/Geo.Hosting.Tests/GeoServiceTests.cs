using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace Geo.Hosting.Tests;

public sealed class GeoServiceTests
{
    [Fact]
    public void CreateBuilder_GeoVariableAndCommandLine_CommandLineWinsThenGeoVariableThenDefault()
    {
        // Keys of this test alone: the process environment is shared with the other tests.
        Environment.SetEnvironmentVariable("GEO_GeoServiceTests__FromEnvironment", "environment");
        Environment.SetEnvironmentVariable("GEO_GeoServiceTests__Both", "environment");

        var configuration = GeoService.CreateBuilder("geo-test", "http://127.0.0.1:0", ["--GeoServiceTests:Both=command-line"]).Configuration;

        Assert.Equal("environment", configuration["GeoServiceTests:FromEnvironment"]);
        Assert.Equal("command-line", configuration["GeoServiceTests:Both"]);
        Assert.Equal("http://127.0.0.1:0", configuration["urls"]);
        Assert.Equal("Warning", configuration["Logging:LogLevel:Microsoft"]);
    }

    [Fact]
    public async Task MapHealth_NotReady_503WithStatusServiceAndDetailsLive200()
    {
        var builder = GeoService.CreateBuilder("geo-test", "http://127.0.0.1:0", ["--Logging:LogLevel:Default=Warning"]);
        await using var app = builder.Build();
        GeoService.MapHealth(app, _ => Task.FromResult(new HealthReport(false, new Dictionary<string, object?> { ["postgres"] = "down" })));
        await app.StartAsync();
        var address = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
        using var http = new HttpClient { BaseAddress = address };

        using var ready = await http.GetAsync(new Uri("/health/ready", UriKind.Relative));
        using var live = await http.GetAsync(new Uri("/health/live", UriKind.Relative));
        using var body = JsonDocument.Parse(await ready.Content.ReadAsStringAsync());
        using var liveBody = JsonDocument.Parse(await live.Content.ReadAsStringAsync());

        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        Assert.Equal("not_ready", body.RootElement.GetProperty("status").GetString());
        Assert.Equal("geo-test", body.RootElement.GetProperty("service").GetString());
        Assert.Equal("down", body.RootElement.GetProperty("postgres").GetString());
        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
        Assert.Equal("live", liveBody.RootElement.GetProperty("status").GetString());
        await app.StopAsync();
    }
}

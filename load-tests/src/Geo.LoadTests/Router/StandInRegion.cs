using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Geo.LoadTests.Router;

/// <summary>A region API reduced to a fixed small JSON answer, so that the benchmark measures the router, not a region.</summary>
internal sealed class StandInRegion : IAsyncDisposable
{
    private static readonly byte[] Answer = Encoding.UTF8.GetBytes("""{"username":"sub","plan":"home-50","status":"active"}""");
    private readonly WebApplication _app;

    private StandInRegion(WebApplication app) => _app = app;

    public Uri Url => new(_app.Urls.First());

    public static async Task<StandInRegion> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        app.MapGet("/health/ready", () => Results.Ok());
        app.Map("/tenants/{**rest}", async context =>
        {
            context.Response.ContentType = "application/json";
            context.Response.ContentLength = Answer.Length;
            await context.Response.Body.WriteAsync(Answer);
        });
        await app.StartAsync();
        return new StandInRegion(app);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

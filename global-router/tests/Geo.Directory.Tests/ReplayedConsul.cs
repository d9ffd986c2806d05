using System.Net;
using System.Text;

namespace Geo.Directory.Tests;

/// <summary>
/// Stands in for a Consul agent: answers each request with a response written after Consul's HTTP API
/// documentation (KV: a JSON array of entries with base64 <c>Value</c> and <c>ModifyIndex</c>, 404 for a missing
/// key, <c>true</c>/<c>false</c> for writes, the <c>X-Consul-Index</c> header; health: entries of Node, Service,
/// Checks). No Consul server can run here; these tests prove our requests and our reading of the answers.
/// </summary>
internal sealed class ReplayedConsul : HttpMessageHandler
{
    private readonly List<Rule> _rules = [];
    private readonly Lock _gate = new();

    public List<Recorded> Requests { get; } = [];

    /// <summary>Answers requests of <paramref name="method"/> to <paramref name="path"/> whose query contains <paramref name="query"/>; rules match in order, each <paramref name="times"/> times.</summary>
    public ReplayedConsul On(HttpMethod method, string path, Func<Recorded, CancellationToken, Task<HttpResponseMessage>> respond, string query = "", int times = int.MaxValue)
    {
        lock (_gate)
        {
            _rules.Add(new Rule(method, path, query, respond) { Remaining = times });
        }

        return this;
    }

    public ReplayedConsul On(HttpMethod method, string path, HttpResponseMessage response, string query = "", int times = 1) =>
        On(method, path, (_, _) => Task.FromResult(response), query, times);

    /// <summary>A blocking query that never sees a change: it waits until the caller gives up.</summary>
    public ReplayedConsul Blocks(string path, string query = "index=") =>
        On(HttpMethod.Get, path, async (_, ct) =>
        {
            await Task.Delay(Timeout.Infinite, ct);
            throw new InvalidOperationException("unreachable");
        }, query);

    public static HttpResponseMessage Json(string body, ulong index, HttpStatusCode status = HttpStatusCode.OK)
    {
        var response = new HttpResponseMessage(status) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        response.Headers.Add("X-Consul-Index", index.ToString(System.Globalization.CultureInfo.InvariantCulture));
        return response;
    }

    public static HttpResponseMessage NotFound(ulong index) => Json("", index, HttpStatusCode.NotFound);

    public static HttpResponseMessage Bool(bool value) => Json(value ? "true" : "false", 0);

    /// <summary>One KV entry as <c>GET /v1/kv/:key</c> returns it.</summary>
    public static string Entry(string key, string valueJson, ulong createIndex, ulong modifyIndex) =>
        $$"""{"LockIndex":0,"Key":"{{key}}","Flags":0,"Value":"{{Convert.ToBase64String(Encoding.UTF8.GetBytes(valueJson))}}","CreateIndex":{{createIndex}},"ModifyIndex":{{modifyIndex}}}""";

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var body = request.Content is null ? "" : await request.Content.ReadAsStringAsync(cancellationToken);
        var recorded = new Recorded(
            request.Method,
            request.RequestUri!.AbsolutePath,
            request.RequestUri.Query.TrimStart('?'),
            body,
            request.Headers.TryGetValues("X-Consul-Token", out var token) ? token.Single() : null);
        Rule? rule;
        lock (_gate)
        {
            Requests.Add(recorded);
            rule = _rules.FirstOrDefault(r => r.Remaining > 0 && r.Method == request.Method && r.Path == recorded.Path &&
                                             recorded.Query.Contains(r.Query, StringComparison.Ordinal));
            if (rule is not null)
            {
                rule.Remaining--;
            }
        }

        return rule is null
            ? throw new InvalidOperationException($"no replayed response for {request.Method} {recorded.Path}?{recorded.Query}")
            : await rule.Respond(recorded, cancellationToken);
    }

    public sealed record Recorded(HttpMethod Method, string Path, string Query, string Body, string? Token);

    private sealed record Rule(HttpMethod Method, string Path, string Query, Func<Recorded, CancellationToken, Task<HttpResponseMessage>> Respond)
    {
        public int Remaining { get; set; }
    }
}

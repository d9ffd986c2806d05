using System.Globalization;
using System.Text;

namespace Geo.Router.IntegrationTests;

/// <summary>
/// Random requests against the router (seeded, so a failure replays): paths, methods, headers and bodies built from
/// the pieces that matter (tenants, keys, dot-segments, encodings, NUL, oversize, broken JSON). The router may refuse
/// any of them, but only with a 4xx problem+json; a 5xx is a bug unless it is a 503 with Retry-After (with both
/// regions up it comes only from a health check that timed out on a loaded machine).
/// </summary>
public sealed class RouterFuzzTests
{
    private const int Seed = 18;
    private const int Requests = 400;

    private static readonly string[] Methods = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"];

    private static readonly string[] Segments =
    [
        "tenants", "acme", "zenith", "nosuch", "subscribers", "alice", "bob", "zed", "plan", "topups", "ledger", "",
        ".", "..", "%2E%2E", "%2e", "%00", "a%00b", "%2F", "a%2Fb", "%252F", "%25", "%FF", "%C3%BC", "%ED%A0%80", "~", "%20",
        "x;y", "a:b", "@", "!$&'()*+,=",
    ];

    private static readonly string[] Keys = [RouterStack.AcmeKey, RouterStack.ZenithKey, RouterStack.OperatorKey, "geo_acme_wrong", "", "   "];

    private static readonly string[] Bodies =
    [
        """{"username":"fuzz","region":"a"}""", """{"username":"fuzz","nasId":"bng-b"}""", """{"username":""}""", """{"username":null}""",
        """{"username":"\u0000"}""", """{"username":"\ud800"}""", """{"username":["x"]}""", """{"username":"x","region":{}}""",
        "[1,2]", "{", "null", "\"text\"", """{"amount":5}""", "",
    ];

    [Fact]
    public async Task RandomRequests_NeverA5xxOtherThan503_RefusalsAreProblems()
    {
        await using var stack = await RouterStack.StartAsync(configure: o => o.MaxRequestBodyBytes = 2048);
        var random = new Random(Seed);
        var failures = new List<string>();
        var statuses = new SortedSet<int>();
        for (var i = 0; i < Requests; i++)
        {
            // A quarter are nearly right (acme's key, a real path), so that the mix also gets past the first checks.
            var nearlyRight = random.Next(4) == 0;
            var method = nearlyRight ? Pick(random, ["GET", "POST", "PUT"]) : Methods[random.Next(Methods.Length)];
            var target = nearlyRight ? Pick(random, ["/tenants/acme/subscribers", "/tenants/acme/subscribers/alice", "/tenants/acme/subscribers/bob/plan"]) : Target(random);
            var headers = nearlyRight ? [("Authorization", "Bearer " + RouterStack.AcmeKey)] : Headers(random);
            var body = random.Next(3) == 0 ? null : Body(random);
            if (method is "GET" or "HEAD" && body is not null && random.Next(2) == 0)
            {
                body = null;
            }

            var response = await RawHttp.SendAsync(stack.Router.Url, method, target, headers, body);
            statuses.Add(response.Status);
            var problem = response.Headers.TryGetValue("content-type", out var type) && type.StartsWith("application/problem+json", StringComparison.Ordinal);
            var deliberate503 = response.Status == 503 && response.Headers.ContainsKey("retry-after") && problem;
            // Kestrel refuses a NUL in the path itself, before the router runs: 400 without a body.
            var serverRefusedNul = response.Status == 400 && target.Contains("%00", StringComparison.Ordinal) && response.Body.Length == 0;
            if ((response.Status >= 500 && !deliberate503) || (response.Status is >= 400 and < 500 && !problem && !serverRefusedNul && method != "HEAD"))
            {
                failures.Add(string.Create(CultureInfo.InvariantCulture,
                    $"#{i} {method} {target} [{string.Join("; ", headers.Select(h => $"{h.Name}: {h.Value}"))}] body {body?.Length ?? 0} bytes -> {response.Status} {response.Body}"));
            }
        }

        Assert.True(failures.Count == 0, $"seed {Seed}:\n" + string.Join("\n", failures.Take(20)));
        // The mix reached past every check at least once, and hit each kind of refusal.
        Assert.True(statuses.IsSupersetOf([200, 400, 401, 404, 413, 422]), "statuses seen: " + string.Join(", ", statuses));
    }

    private static string Target(Random random)
    {
        var path = new StringBuilder();
        var prefix = random.Next(4) != 0;
        if (prefix)
        {
            path.Append("/tenants/").Append(random.Next(3) == 0 ? Pick(random, Segments) : "acme").Append("/subscribers");
        }

        for (var n = random.Next(prefix ? 4 : 7); n > 0; n--)
        {
            path.Append('/').Append(random.Next(4) == 0 ? RandomSegment(random) : Pick(random, Segments));
        }

        if (path.Length == 0)
        {
            path.Append('/');
        }

        if (random.Next(4) == 0)
        {
            path.Append(random.Next(2) == 0 ? "?limit=" + random.Next(-5, 3000).ToString(CultureInfo.InvariantCulture) : "?cursor=" + RandomSegment(random));
        }

        return path.ToString();
    }

    private static List<(string Name, string Value)> Headers(Random random)
    {
        var headers = new List<(string, string)>();
        if (random.Next(5) != 0)
        {
            headers.Add(("Authorization", (random.Next(6) == 0 ? "Basic " : "Bearer ") + Pick(random, Keys)));
        }

        if (random.Next(3) == 0)
        {
            headers.Add(("Content-Type", random.Next(2) == 0 ? "application/json" : "text/plain; charset=latin1"));
        }

        if (random.Next(4) == 0)
        {
            headers.Add((Pick(random, ["Geo-Shard", "Geo-Epoch", "Geo-Region", "X-Forwarded-Host", "Accept"]), RandomSegment(random)));
        }

        return headers;
    }

    private static byte[] Body(Random random)
    {
        var kind = random.Next(4);
        if (kind == 0)
        {
            var bytes = new byte[random.Next(0, 4096)];
            random.NextBytes(bytes);
            return bytes;
        }

        var text = Pick(random, Bodies);
        if (kind == 1 && text.Length > 0)
        {
            // One character changed: broken JSON, or JSON that means something else.
            var chars = text.ToCharArray();
            chars[random.Next(chars.Length)] = (char)random.Next(0x20, 0x7f);
            text = new string(chars);
        }

        return Encoding.UTF8.GetBytes(text);
    }

    private static string RandomSegment(Random random)
    {
        var segment = new StringBuilder();
        for (var n = random.Next(1, 12); n > 0; n--)
        {
            var c = random.Next(0, 128);
            segment.Append(char.IsAsciiLetterOrDigit((char)c) ? ((char)c).ToString() : "%" + c.ToString("X2", CultureInfo.InvariantCulture));
        }

        return segment.ToString();
    }

    private static T Pick<T>(Random random, T[] items) => items[random.Next(items.Length)];
}

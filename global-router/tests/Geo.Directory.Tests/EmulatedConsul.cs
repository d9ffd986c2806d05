using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;

namespace Geo.Directory.Tests;

/// <summary>
/// A Consul agent's KV store held in memory, for tests that need state across calls (where <see cref="ReplayedConsul"/>
/// answers one request at a time). It follows Consul's HTTP API documentation: <c>GET /v1/kv/:key</c> (one key,
/// <c>recurse</c>, <c>keys</c>), <c>PUT</c> and <c>DELETE</c> with <c>cas</c>, <c>PUT /v1/txn</c> (verbs <c>set</c>,
/// <c>cas</c>, <c>check-index</c>, <c>delete</c>, <c>delete-cas</c>; all or nothing, 409 with the failed operations), and
/// blocking queries. Indexes as Consul keeps them: every write (a transaction: all its writes) takes the next Raft
/// index; a prefix answers with the highest ModifyIndex below it, deleted keys included (Consul's tombstones), or the
/// whole store's index when nothing is below it; a blocking query answers once that index passes the one asked for.
/// The region service has no instance and never changes. Not modelled: sessions, locks, flags, ACLs, consistency
/// modes and Consul's wait limit (a blocking query waits until a change or until the caller gives up).
/// </summary>
internal sealed class EmulatedConsul : HttpMessageHandler
{
    private const string KvPath = "/v1/kv/";

    private readonly Lock _gate = new();
    private readonly SortedDictionary<string, Entry> _kv = new(StringComparer.Ordinal);
    private readonly Dictionary<string, ulong> _tombstones = new(StringComparer.Ordinal);
    private ulong _index = 1;
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Every key written or deleted, in order.</summary>
    public List<string> WrittenKeys { get; } = [];

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var path = Uri.UnescapeDataString(request.RequestUri!.AbsolutePath);
        var query = request.RequestUri.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries)
            .Select(p => p.Split('=', 2)).ToDictionary(p => p[0], p => p.Length > 1 ? Uri.UnescapeDataString(p[1]) : "", StringComparer.Ordinal);
        var body = request.Content is null ? [] : await request.Content.ReadAsByteArrayAsync(cancellationToken);
        if (request.Method == HttpMethod.Put && path == "/v1/txn")
        {
            return Transact(body);
        }

        if (request.Method == HttpMethod.Get && path.StartsWith("/v1/health/service/", StringComparison.Ordinal))
        {
            if (query.ContainsKey("index"))
            {
                await Task.Delay(Timeout.Infinite, cancellationToken);
            }

            return Answer(HttpStatusCode.OK, "[]", 1);
        }

        if (!path.StartsWith(KvPath, StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"not emulated: {request.Method} {path}");
        }

        var key = path[KvPath.Length..];
        ulong? cas = query.TryGetValue("cas", out var text) ? ulong.Parse(text, CultureInfo.InvariantCulture) : null;
        return request.Method.Method switch
        {
            "GET" => await ReadAsync(key, query, cancellationToken),
            "PUT" => Bool(Write(key, cas, entry => entry with { Value = body })),
            "DELETE" => Bool(Write(key, cas, _ => null)),
            _ => throw new InvalidOperationException($"not emulated: {request.Method} {path}"),
        };
    }

    private async Task<HttpResponseMessage> ReadAsync(string key, Dictionary<string, string> query, CancellationToken cancellationToken)
    {
        var list = query.ContainsKey("recurse") || query.ContainsKey("keys");
        if (list && query.TryGetValue("index", out var text))
        {
            var wanted = ulong.Parse(text, CultureInfo.InvariantCulture);
            while (true)
            {
                Task changed;
                lock (_gate)
                {
                    if (PrefixIndex(key) > wanted)
                    {
                        break;
                    }

                    changed = _changed.Task;
                }

                await changed.WaitAsync(cancellationToken);
            }
        }

        lock (_gate)
        {
            if (!list)
            {
                return _kv.TryGetValue(key, out var one)
                    ? Answer(HttpStatusCode.OK, new JsonArray(one.ToJson()).ToJsonString(), one.ModifyIndex)
                    : Answer(HttpStatusCode.NotFound, "", _index);
            }

            var below = _kv.Values.Where(e => e.Key.StartsWith(key, StringComparison.Ordinal)).ToList();
            var index = PrefixIndex(key);
            if (below.Count == 0)
            {
                return Answer(HttpStatusCode.NotFound, "", index);
            }

            var array = query.ContainsKey("keys")
                ? new JsonArray([.. below.Select(e => (JsonNode)e.Key)])
                : new JsonArray([.. below.Select(e => (JsonNode)e.ToJson())]);
            return Answer(HttpStatusCode.OK, array.ToJsonString(), index);
        }
    }

    /// <summary>A single-key write: <paramref name="change"/> gives the new entry (null: delete); false when <paramref name="cas"/> does not hold.</summary>
    private bool Write(string key, ulong? cas, Func<Entry, Entry?> change)
    {
        lock (_gate)
        {
            _kv.TryGetValue(key, out var current);
            if (cas is { } expected && !CasHolds(current, expected))
            {
                return false;
            }

            Apply(new Dictionary<string, Entry?>(StringComparer.Ordinal) { [key] = change(current ?? new Entry(key, [], 0, 0)) });
            return true;
        }
    }

    private HttpResponseMessage Transact(byte[] body)
    {
        var operations = JsonNode.Parse(body)!.AsArray().Select(o => o!["KV"]!).ToList();
        lock (_gate)
        {
            var next = _index + 1;
            var staged = new Dictionary<string, Entry?>(StringComparer.Ordinal);
            var results = new JsonArray();
            var errors = new JsonArray();
            for (var i = 0; i < operations.Count; i++)
            {
                var operation = operations[i];
                var verb = (string)operation["Verb"]!;
                var key = (string)operation["Key"]!;
                var index = operation["Index"] is { } given ? (ulong)given : 0;
                var current = staged.TryGetValue(key, out var written) ? written : _kv.GetValueOrDefault(key);
                var value = operation["Value"] is { } encoded ? Convert.FromBase64String((string)encoded!) : [];
                string? failure = verb switch
                {
                    "set" => null,
                    "cas" => CasHolds(current, index) ? null : $"failed to set key \"{key}\", index is stale",
                    "check-index" => current is null ? $"key \"{key}\" doesn't exist"
                        : current.ModifyIndex != index ? $"current modify index {current.ModifyIndex} != {index}" : null,
                    "delete" => null,
                    "delete-cas" => current is not null && current.ModifyIndex == index ? null : $"failed to delete key \"{key}\", index is stale",
                    _ => $"unknown KV verb \"{verb}\"",
                };
                if (failure is not null)
                {
                    errors.Add(new JsonObject { ["OpIndex"] = i, ["What"] = failure });
                    continue;
                }

                switch (verb)
                {
                    case "set" or "cas":
                        staged[key] = new Entry(key, value, current?.CreateIndex ?? next, next);
                        results.Add(new JsonObject { ["KV"] = staged[key]!.ToJson(withValue: false) });
                        break;
                    case "check-index":
                        results.Add(new JsonObject { ["KV"] = current!.ToJson(withValue: false) });
                        break;
                    default:
                        // Consul's rule: deletes give no result.
                        staged[key] = null;
                        break;
                }
            }

            if (errors.Count > 0)
            {
                return Answer(HttpStatusCode.Conflict, new JsonObject { ["Results"] = null, ["Errors"] = errors }.ToJsonString(), _index);
            }

            Apply(staged);
            return Answer(HttpStatusCode.OK, new JsonObject { ["Results"] = results, ["Errors"] = null }.ToJsonString(), _index);
        }
    }

    /// <summary>Applies the writes of one Raft entry: each key written takes the next index; deleted ones leave a tombstone.</summary>
    private void Apply(Dictionary<string, Entry?> writes)
    {
        if (writes.Count == 0)
        {
            return;
        }

        var next = ++_index;
        foreach (var (key, entry) in writes)
        {
            WrittenKeys.Add(key);
            if (entry is not null)
            {
                _kv[key] = entry with { CreateIndex = _kv.TryGetValue(key, out var old) ? old.CreateIndex : next, ModifyIndex = next };
                _tombstones.Remove(key);
            }
            else if (_kv.Remove(key))
            {
                _tombstones[key] = next;
            }
        }

        _changed.TrySetResult();
        _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private ulong PrefixIndex(string prefix)
    {
        var highest = _kv.Values.Where(e => e.Key.StartsWith(prefix, StringComparison.Ordinal)).Select(e => e.ModifyIndex)
            .Concat(_tombstones.Where(t => t.Key.StartsWith(prefix, StringComparison.Ordinal)).Select(t => t.Value))
            .DefaultIfEmpty(0UL).Max();
        return highest == 0 ? _index : highest;
    }

    private static bool CasHolds(Entry? current, ulong expected) => expected == 0 ? current is null : current?.ModifyIndex == expected;

    private static HttpResponseMessage Bool(bool value) => Answer(HttpStatusCode.OK, value ? "true" : "false", 0);

    private static HttpResponseMessage Answer(HttpStatusCode status, string body, ulong index)
    {
        var response = new HttpResponseMessage(status) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        response.Headers.Add("X-Consul-Index", index.ToString(CultureInfo.InvariantCulture));
        return response;
    }

    private sealed record Entry(string Key, byte[] Value, ulong CreateIndex, ulong ModifyIndex)
    {
        public JsonObject ToJson(bool withValue = true) => new()
        {
            ["LockIndex"] = 0,
            [nameof(Key)] = Key,
            ["Flags"] = 0,
            [nameof(Value)] = withValue ? Convert.ToBase64String(Value) : null,
            [nameof(CreateIndex)] = CreateIndex,
            [nameof(ModifyIndex)] = ModifyIndex,
        };
    }
}

using System.Text.Json.Serialization;

namespace Geo.Directory.Stores.Consul;

/// <summary>One entry of <c>GET /v1/kv/:key</c> (Consul's documented shape; <c>Value</c> is base64).</summary>
internal sealed record ConsulKvEntry(string Key, string? Value, ulong CreateIndex, ulong ModifyIndex, ulong LockIndex, ulong Flags, string? Session);

/// <summary>One entry of <c>GET /v1/health/service/:service</c>: a service instance with its node and checks.</summary>
internal sealed record ConsulServiceEntry(ConsulNode Node, ConsulService Service, IReadOnlyList<ConsulCheck>? Checks);

internal sealed record ConsulNode(string Node, string Address);

internal sealed record ConsulService(string ID, string Service, string? Address, int Port, IReadOnlyDictionary<string, string>? Meta, IReadOnlyList<string>? Tags);

internal sealed record ConsulCheck(string CheckID, string Status, string? ServiceID);

/// <summary>One operation of <c>PUT /v1/txn</c> (only KV operations are used).</summary>
internal sealed record ConsulTxnOp(ConsulTxnKvOp KV);

/// <summary>A KV operation of a transaction: <c>Value</c> is base64; <c>Index</c> is the ModifyIndex that <c>cas</c>, <c>check-index</c> and <c>delete-cas</c> expect.</summary>
internal sealed record ConsulTxnKvOp(string Verb, string Key, string? Value = null, ulong? Index = null);

/// <summary>The answer of <c>PUT /v1/txn</c>: results when applied (200), errors when rolled back (409).</summary>
internal sealed record ConsulTxnResponse(List<ConsulTxnResult>? Results, List<ConsulTxnError>? Errors);

/// <summary>A result of a transaction: the entry written or checked, its <c>Value</c> null (deletes give none).</summary>
internal sealed record ConsulTxnResult(ConsulKvEntry? KV);

/// <summary>Why a transaction was rolled back: the operation that failed, by its position.</summary>
internal sealed record ConsulTxnError(int OpIndex, string What);

[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(List<ConsulKvEntry>))]
[JsonSerializable(typeof(List<ConsulServiceEntry>))]
[JsonSerializable(typeof(IReadOnlyList<ConsulTxnOp>))]
[JsonSerializable(typeof(ConsulTxnResponse))]
internal sealed partial class ConsulApiJson : JsonSerializerContext;

/// <summary>The value of <c>directory/regions/&lt;id&gt;</c>.</summary>
internal sealed record RegionDocument(string DisplayName, string ApiUrl, string RadiusHost, int RadiusAuthPort, int RadiusAcctPort);

/// <summary>The value of <c>directory/tenants/&lt;id&gt;</c>.</summary>
/// <param name="DisplayName">Name for people.</param>
/// <param name="ApiKeyHash">Base64 of the SHA-256 of the tenant's API key, once issued.</param>
internal sealed record TenantDocument(string DisplayName, string? ApiKeyHash = null);

/// <summary>The value of <c>directory/shards/&lt;tenant&gt;/&lt;home&gt;</c>.</summary>
internal sealed record ShardDocument(
    string Owner, string? Standby, long Epoch, string State, string? LeaseHolder, DateTimeOffset? LeaseExpiresAt, string DatabaseName);

/// <summary>The value of <c>directory/nas/&lt;tenant&gt;/&lt;id&gt;</c>.</summary>
internal sealed record NasDocument(string Address, string PrimaryRegion, string? BackupRegion);

/// <summary>The value of <c>owner-leases/&lt;tenant&gt;/&lt;home&gt;</c> (times on the writer's clock, see <see cref="ConsulDirectoryStore"/>).</summary>
internal sealed record OwnerLeaseDocument(string Holder, long Epoch, DateTimeOffset ExpiresAt, DateTimeOffset RenewedAt);

/// <summary>The value of <c>dr-events/&lt;tenant&gt;/&lt;home&gt;/&lt;unique&gt;</c>; the event's id is the key's CreateIndex, its data JSON text.</summary>
internal sealed record DrEventDocument(
    DateTimeOffset At, string Operation, string Step, string Outcome, string Detail, string? Operator, string? Data, double? ElapsedMs);

/// <summary>
/// One username in a placement bucket: <c>h</c> home region and <c>c</c> creation (Unix ms) when placed, or
/// <c>d</c> (Unix ms) when removed — a tombstone, so that watchers that diff buckets see the removal; pruned after an hour.
/// </summary>
internal sealed record PlacementEntry(
    [property: JsonPropertyName("h")] string? Home,
    [property: JsonPropertyName("c")] long? Created,
    [property: JsonPropertyName("d")] long? Deleted);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(RegionDocument))]
[JsonSerializable(typeof(TenantDocument))]
[JsonSerializable(typeof(ShardDocument))]
[JsonSerializable(typeof(NasDocument))]
[JsonSerializable(typeof(OwnerLeaseDocument))]
[JsonSerializable(typeof(DrEventDocument))]
[JsonSerializable(typeof(Dictionary<string, PlacementEntry>))]
internal sealed partial class GeoConsulJson : JsonSerializerContext;

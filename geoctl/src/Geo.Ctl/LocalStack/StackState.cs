using System.Text.Json;
using System.Text.Json.Serialization;
using Geo.Engines;

namespace Geo.Ctl.LocalStack;

/// <summary>What <c>geoctl up</c> decided once and keeps: the regions and the ports their services use.</summary>
internal sealed record StackState
{
    public int Version { get; init; } = 1;

    public required DateTimeOffset CreatedAt { get; init; }

    public required int SubscribersPerShard { get; init; }

    public required IReadOnlyList<RegionState> Regions { get; init; }

    /// <summary>The loopback port of geo-router's API; 0 in a state written before the router was part of the stack.</summary>
    public int RouterPort { get; init; }

    public static async Task<StackState?> LoadAsync(StackLayout layout, CancellationToken cancellationToken)
    {
        if (!File.Exists(layout.StateFile))
        {
            return null;
        }

        await using var stream = File.OpenRead(layout.StateFile);
        return await JsonSerializer.DeserializeAsync(stream, StackStateJson.Default.StackState, cancellationToken)
            ?? throw new InvalidDataException($"{layout.StateFile} is empty");
    }

    /// <summary>Writes the state atomically (temp file, then rename), so an interrupted write never leaves half a file.</summary>
    public async Task SaveAsync(StackLayout layout, CancellationToken cancellationToken)
    {
        var temp = layout.StateFile + ".tmp";
        await using (var stream = File.Create(temp))
        {
            await JsonSerializer.SerializeAsync(stream, this, StackStateJson.Default.StackState, cancellationToken);
        }

        File.Move(temp, layout.StateFile, overwrite: true);
    }
}

/// <summary>
/// One region of the local stack: its id, the loopback ports of its region node (RADIUS, API, management: metrics and the
/// OpenAPI document) and of its replicator (health, management: metrics). Ports an older state lacks are 0 until 'geoctl up' picks them.
/// </summary>
internal sealed record RegionState(string Id, int RadiusAuthPort, int RadiusAcctPort, int ApiPort, int ReplicatorPort = 0, int ManagementPort = 0, int ReplicatorManagementPort = 0)
{
    /// <summary>Whether every port is chosen (a state written before a service or listener joined the stack is not).</summary>
    public bool Complete => ReplicatorPort != 0 && ManagementPort != 0 && ReplicatorManagementPort != 0;

    /// <summary>The same region with a free port for each one not chosen yet.</summary>
    public RegionState Completed() => this with
    {
        ReplicatorPort = ReplicatorPort == 0 ? LoopbackPorts.FreeTcpPort() : ReplicatorPort,
        ManagementPort = ManagementPort == 0 ? LoopbackPorts.FreeTcpPort() : ManagementPort,
        ReplicatorManagementPort = ReplicatorManagementPort == 0 ? LoopbackPorts.FreeTcpPort() : ReplicatorManagementPort,
    };
}

[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(StackState))]
internal sealed partial class StackStateJson : JsonSerializerContext;

using System.Diagnostics;
using Microsoft.Extensions.Options;

namespace Geo.RegionNode.Shards;

/// <summary>
/// Failsafe for a directory outage (in the spirit of Patroni's failsafe mode): a promotion needs the directory, so
/// while a shard's standby region cannot reach it either, nobody can promote the shard and its owner may keep serving
/// without renewing its lease. When this node cannot renew, it asks the standby region of each of its shards
/// (<c>GET /internal/directory</c> on that region's API) and keeps a shard's lease for one more short interval only if
/// the standby answers that it cannot reach the directory. A standby that can reach it, or that cannot be asked,
/// means the shard is fenced when its lease runs out. The standby side holds up its end: after regaining the
/// directory it takes no new shard for <see cref="OwnerLeases.FailsafeGrace"/>, longer than one extension.
/// </summary>
internal sealed partial class DirectoryFailsafe(ShardCatalog catalog, IOptions<RegionNodeOptions> options, ILogger<DirectoryFailsafe> logger) : IDisposable
{
    public const string Path = "/internal/directory";

    private readonly RegionNodeOptions _options = options.Value;
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromMilliseconds(500) };
    private bool _holding;

    /// <summary>What a region answers: whether it reaches the directory.</summary>
    public sealed record Answer(string Region, bool Reachable);

    /// <summary>
    /// How long one confirmation keeps a lease: until the next one can have come, that is a failed renewal attempt (it
    /// gives up after two intervals), this question (at most 0.5 s) and one more interval of scheduling slack.
    /// </summary>
    public TimeSpan Extension => _options.LeaseRenewInterval * 3 + TimeSpan.FromMilliseconds(500);

    /// <summary>Asks the standbys of the shards whose lease is still held; extends those whose standby cannot reach the directory either.</summary>
    public async Task HoldAsync(IReadOnlyCollection<ShardHandle> shards, CancellationToken cancellationToken)
    {
        var sent = Stopwatch.GetTimestamp();
        var held = shards.Where(s => s.HoldsLease).ToList();
        if (held.Count == 0)
        {
            return;
        }

        var answers = new Dictionary<string, bool>(StringComparer.Ordinal);
        foreach (var standby in held.Select(s => s.StandbyRegion).OfType<string>().Distinct(StringComparer.Ordinal))
        {
            answers[standby] = await StandbyCutOffAsync(standby, cancellationToken);
        }

        var validUntil = sent + (long)(Extension.TotalSeconds * Stopwatch.Frequency);
        var extended = 0;
        foreach (var shard in held)
        {
            // A shard without a standby cannot be promoted: nobody can take it over, so nobody is fenced out by serving it.
            if (shard.StandbyRegion is null || answers.GetValueOrDefault(shard.StandbyRegion))
            {
                shard.ExtendLease(validUntil);
                extended++;
            }
        }

        var holding = extended > 0;
        if (holding != _holding)
        {
            _holding = holding;
            if (holding)
            {
                LogHolding(logger, extended, held.Count);
            }
        }
    }

    private async Task<bool> StandbyCutOffAsync(string region, CancellationToken cancellationToken)
    {
        if (catalog.Region(region) is not { } endpoint)
        {
            return false;
        }

        try
        {
            var answer = await _http.GetFromJsonAsync<Answer>(new Uri(endpoint.ApiUrl, Path), cancellationToken);
            return answer is { Reachable: false } && answer.Region == region;
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or System.Text.Json.JsonException && !cancellationToken.IsCancellationRequested)
        {
            // Cannot be asked: it may be reaching the directory and promoting. Fenced when the lease runs out.
            return false;
        }
    }

    public void Dispose() => _http.Dispose();

    [LoggerMessage(EventId = 1116, Level = LogLevel.Warning,
        Message = "Failsafe: the directory is unreachable here and from the standby region; {Extended} of {Held} shards keep being served without a renewed lease")]
    private static partial void LogHolding(ILogger logger, int extended, int held);
}

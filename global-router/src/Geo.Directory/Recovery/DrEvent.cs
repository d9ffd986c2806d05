using System.Text.Json;
using System.Text.RegularExpressions;
using Geo.Directory.Shards;

namespace Geo.Directory.Recovery;

/// <summary>
/// One entry of the DR event log: a step of a promote (later: switchover, rejoin) with its timing and outcome.
/// Written by <see cref="IDirectoryStore.AppendDrEventAsync"/>, which assigns <paramref name="Id"/> and
/// <paramref name="At"/> (what the caller passes there is ignored).
/// </summary>
/// <param name="Id">Its number, in the order appended (increasing, not necessarily dense).</param>
/// <param name="At">When it was appended, on the directory's clock.</param>
/// <param name="Shard">The shard acted on.</param>
/// <param name="Operation">One of <see cref="DrOperations"/> (lower-case letters, digits, '-' and '_').</param>
/// <param name="Step">The step of the operation (<c>wait-lease</c>, <c>flip-owner</c>, ...): 1 to 100 characters.</param>
/// <param name="Outcome">One of <see cref="DrOutcomes"/>.</param>
/// <param name="Detail">A line for people (may be empty).</param>
/// <param name="Operator">Who ran it, if known.</param>
/// <param name="DataJson">Figures of the step as a JSON value (positions, lag, RPO estimate), if any.</param>
/// <param name="ElapsedMs">How long the step took, if it is over.</param>
public sealed record DrEvent(
    long Id, DateTimeOffset At, ShardKey Shard, string Operation, string Step, string Outcome, string Detail, string? Operator, string? DataJson, double? ElapsedMs);

/// <summary>The operations the DR event log records.</summary>
public static class DrOperations
{
    /// <summary>A standby made the owner because the owner region was lost.</summary>
    public const string Promote = "promote";

    /// <summary>A planned change of owner (later).</summary>
    public const string Switchover = "switchover";

    /// <summary>A returned old owner rebuilt as a replica (later).</summary>
    public const string Rejoin = "rejoin";
}

/// <summary>How a step of a DR operation ended (or that it started).</summary>
public static class DrOutcomes
{
    /// <summary>The step began.</summary>
    public const string Started = "started";

    /// <summary>The step is complete.</summary>
    public const string Done = "done";

    /// <summary>The step went wrong.</summary>
    public const string Failed = "failed";

    /// <summary>The step was not allowed (a precondition did not hold).</summary>
    public const string Refused = "refused";

    /// <summary>A note along the way.</summary>
    public const string Info = "info";

    /// <summary>Whether <paramref name="outcome"/> is one of these.</summary>
    public static bool IsKnown(string? outcome) => outcome is Started or Done or Failed or Refused or Info;
}

/// <summary>The rules every store applies to an event before appending it, so that all stores refuse the same events.</summary>
internal static partial class DrEventRules
{
    public const int MaxStepLength = 100;

    /// <summary>Throws <see cref="ArgumentException"/> for an event no store would hold.</summary>
    public static void Validate(DrEvent drEvent)
    {
        ArgumentNullException.ThrowIfNull(drEvent);
        if (string.IsNullOrEmpty(drEvent.Shard.TenantId) || string.IsNullOrEmpty(drEvent.Shard.HomeRegion) ||
            drEvent.Shard.TenantId.Contains('/', StringComparison.Ordinal) || drEvent.Shard.HomeRegion.Contains('/', StringComparison.Ordinal))
        {
            throw new ArgumentException($"DR event shard '{drEvent.Shard}': a tenant and a region id", nameof(drEvent));
        }

        if (drEvent.Operation is null || !OperationPattern().IsMatch(drEvent.Operation))
        {
            throw new ArgumentException($"DR event operation '{drEvent.Operation}': lower-case letters, digits, '-' and '_', starting with a letter, at most 31", nameof(drEvent));
        }

        if (string.IsNullOrEmpty(drEvent.Step) || drEvent.Step.Length > MaxStepLength)
        {
            throw new ArgumentException($"DR event step: 1 to {MaxStepLength} characters", nameof(drEvent));
        }

        if (!DrOutcomes.IsKnown(drEvent.Outcome))
        {
            throw new ArgumentException($"DR event outcome '{drEvent.Outcome}': one of started, done, failed, refused, info", nameof(drEvent));
        }

        ArgumentNullException.ThrowIfNull(drEvent.Detail, nameof(drEvent));
        if (drEvent.ElapsedMs is { } elapsed && !double.IsFinite(elapsed))
        {
            throw new ArgumentException("DR event elapsed time: a finite number of milliseconds", nameof(drEvent));
        }

        if (drEvent.DataJson is { } data)
        {
            try
            {
                using var _ = JsonDocument.Parse(data);
            }
            catch (JsonException ex)
            {
                throw new ArgumentException("DR event data: not a JSON value", nameof(drEvent), ex);
            }
        }
    }

    /// <summary>The newest <paramref name="limit"/> of <paramref name="events"/>, oldest first.</summary>
    public static List<DrEvent> Newest(IEnumerable<DrEvent> events, int limit)
    {
        var ordered = events.OrderBy(e => e.Id).ToList();
        return ordered.GetRange(Math.Max(0, ordered.Count - limit), Math.Min(limit, ordered.Count));
    }

    [GeneratedRegex("^[a-z][a-z0-9_-]{0,30}$", RegexOptions.CultureInvariant)]
    private static partial Regex OperationPattern();
}

namespace Geo.Directory.Shards;

/// <summary>A shard's name: the subscribers of one tenant homed in one region (<c>tenant@home</c>).</summary>
/// <param name="TenantId">The tenant.</param>
/// <param name="HomeRegion">The region the shard was created in; it never changes, its owner may.</param>
public readonly record struct ShardKey(string TenantId, string HomeRegion)
{
    /// <summary>The text form <c>tenant@home</c>, as the <c>Geo-Shard</c> header carries it.</summary>
    public override string ToString() => $"{TenantId}@{HomeRegion}";

    /// <summary>Parses <c>tenant@home</c>; false for anything else.</summary>
    public static bool TryParse(string? text, out ShardKey key)
    {
        key = default;
        var at = text?.IndexOf('@', StringComparison.Ordinal) ?? -1;
        if (text is null || at <= 0 || at == text.Length - 1 || text.IndexOf('@', at + 1) >= 0)
        {
            return false;
        }

        key = new ShardKey(text[..at], text[(at + 1)..]);
        return true;
    }
}

/// <summary>The life cycle of a shard, as the <c>shards.state</c> column spells it.</summary>
public enum ShardState
{
    /// <summary>Being created; not routable yet.</summary>
    Provisioning,

    /// <summary>Served by its owner.</summary>
    Active,

    /// <summary>Its standby is being promoted (disaster recovery); not routable until it is done.</summary>
    Promoting,

    /// <summary>A planned switchover is draining it; not routable until it is done.</summary>
    Switching,

    /// <summary>Its owner was fenced and no successor took over; not routable.</summary>
    Fenced,

    /// <summary>Being retired; still served by its owner.</summary>
    Retiring,
}

/// <summary>Text forms of <see cref="ShardState"/>.</summary>
public static class ShardStates
{
    /// <summary>The column value of a state.</summary>
    public static string ToText(ShardState state) => state switch
    {
        ShardState.Provisioning => "provisioning",
        ShardState.Active => "active",
        ShardState.Promoting => "promoting",
        ShardState.Switching => "switching",
        ShardState.Fenced => "fenced",
        ShardState.Retiring => "retiring",
        _ => throw new ArgumentOutOfRangeException(nameof(state), state, "unknown shard state"),
    };

    /// <summary>Parses a column value.</summary>
    public static ShardState Parse(string text) => text switch
    {
        "provisioning" => ShardState.Provisioning,
        "active" => ShardState.Active,
        "promoting" => ShardState.Promoting,
        "switching" => ShardState.Switching,
        "fenced" => ShardState.Fenced,
        "retiring" => ShardState.Retiring,
        _ => throw new FormatException($"unknown shard state '{text}'"),
    };

    /// <summary>Whether requests may be sent to the owner of a shard in this state.</summary>
    public static bool IsRoutable(ShardState state) => state is ShardState.Active or ShardState.Retiring;
}

/// <summary>Who holds a shard's lease (the process driving a promotion or switchover) and until when.</summary>
/// <param name="Holder">Id of the holder.</param>
/// <param name="ExpiresAt">When the lease lapses unless renewed.</param>
public sealed record ShardLease(string Holder, DateTimeOffset ExpiresAt);

/// <summary>A shard: who owns it now, who stands by, and its fencing epoch.</summary>
/// <param name="Key">Its name.</param>
/// <param name="OwnerRegion">The region that serves its reads and writes now.</param>
/// <param name="StandbyRegion">The region holding its CDC replica, if any.</param>
/// <param name="Epoch">The fencing token: raised on every compare-and-set; every write path checks it.</param>
/// <param name="State">Its life-cycle state.</param>
/// <param name="Lease">Its lease, if held.</param>
/// <param name="DatabaseName">Name of its database, the same in the owner and the standby region.</param>
public sealed record Shard(ShardKey Key, string OwnerRegion, string? StandbyRegion, long Epoch, ShardState State, ShardLease? Lease, string DatabaseName);

/// <summary>
/// A compare-and-set change of a shard. Fields left null keep their value; a successful change of the owner or the
/// state raises the epoch by one, so that whoever acted on the old record is fenced. A change of the standby alone
/// keeps the epoch (<see cref="RaisesEpoch"/>): it moves no write, and the owner's nodes and fence stay valid. A new owner that was the standby
/// leaves the shard without a standby unless the update names one (a region never stands by for itself).
/// </summary>
public sealed record ShardUpdate
{
    /// <summary>The new owner region.</summary>
    public string? OwnerRegion { get; init; }

    /// <summary>The new standby region (with <see cref="ChangeStandby"/>; null then clears it).</summary>
    public string? StandbyRegion { get; init; }

    /// <summary>Whether <see cref="StandbyRegion"/> applies.</summary>
    public bool ChangeStandby { get; init; }

    /// <summary>The new state.</summary>
    public ShardState? State { get; init; }

    /// <summary>
    /// False for a change of the standby alone (a rejoined region becomes the standby): the owner keeps serving at its
    /// epoch, whose fence is in its database. Every other change raises the epoch.
    /// </summary>
    public bool RaisesEpoch => OwnerRegion is not null || State is not null || !ChangeStandby;
}

/// <summary>How a compare-and-set of a shard ended.</summary>
public enum ShardUpdateOutcome
{
    /// <summary>Applied; the epoch rose by one (unless only the standby changed: <see cref="ShardUpdate.RaisesEpoch"/>).</summary>
    Updated,

    /// <summary>Refused: the shard's epoch was not the expected one (someone else changed it first).</summary>
    EpochMismatch,

    /// <summary>Refused: no such shard.</summary>
    NotFound,

    /// <summary>Refused: another holder's lease is still running.</summary>
    LeaseHeld,

    /// <summary>Refused: the shard was not in the expected lifecycle state.</summary>
    StateMismatch,
}

/// <summary>The outcome of a compare-and-set and the shard as it is now (null when it does not exist).</summary>
/// <param name="Outcome">What happened.</param>
/// <param name="Current">The shard after the attempt.</param>
public sealed record ShardUpdateResult(ShardUpdateOutcome Outcome, Shard? Current)
{
    /// <summary>Whether the change was applied.</summary>
    public bool Succeeded => Outcome == ShardUpdateOutcome.Updated;
}

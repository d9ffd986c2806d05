namespace Geo.Rating;

/// <summary>What a plan charges: quotas per period, prices, and what happens when something runs out.</summary>
/// <param name="DataQuotaBytes">Bytes per period (upload + download); null is unlimited.</param>
/// <param name="TimeQuotaSeconds">Seconds per period; null is unlimited.</param>
/// <param name="PricePerMbMicros">Money per 1,000,000 bytes, in micro-units; 0 is free.</param>
/// <param name="PricePerMinuteMicros">Money per 60 seconds, in micro-units; 0 is free.</param>
/// <param name="AllowOverdraft">True lets buckets and the balance go past zero instead of capping the charge.</param>
/// <param name="Exhaustion">What the network does when a quota or the balance runs out.</param>
public sealed record Tariff(
    long? DataQuotaBytes,
    long? TimeQuotaSeconds,
    long PricePerMbMicros,
    long PricePerMinuteMicros,
    bool AllowOverdraft,
    ExhaustionAction Exhaustion)
{
    /// <summary>True when usage costs money (a prepaid plan).</summary>
    public bool IsPriced => PricePerMbMicros > 0 || PricePerMinuteMicros > 0;
}

/// <summary>What to do when a quota or the balance is exhausted.</summary>
public enum ExhaustionAction
{
    /// <summary>Disconnect-Request to the NAS; new logins are rejected.</summary>
    Disconnect,

    /// <summary>CoA-Request with the plan's reduced rate; new logins get the reduced rate.</summary>
    Throttle,
}

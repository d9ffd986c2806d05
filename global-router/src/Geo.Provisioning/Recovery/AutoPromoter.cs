using Geo.Directory;
using Geo.Directory.Shards;
using ShardState = Geo.Directory.Shards.ShardState;
using Geo.Directory.Stores.Postgres;
using Geo.Replication.Hosting;
using Geo.Replication.Promotion;
using Geo.Schema;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Geo.Provisioning.Recovery;

/// <summary>Automatic failover (section <c>Dr</c>): off unless configured.</summary>
public sealed class AutoPromoteOptions
{
    /// <summary>The configuration section.</summary>
    public const string Section = "Dr";

    /// <summary>Promote every shard this region stands by for automatically.</summary>
    public bool AutoPromote { get; set; }

    /// <summary>Tenants whose shards are promoted automatically even when <see cref="AutoPromote"/> is off.</summary>
    public IList<string> AutoPromoteTenants { get; } = [];

    /// <summary>How long the owner's lease must have been expired (by the directory's clock) before the standby promotes.</summary>
    public TimeSpan AutoPromoteAfter { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How far behind its owner the standby may have been when the owner was lost and still be promoted automatically:
    /// both the commits it heard of but had not applied and the silence of its stream before the owner's last lease renewal.
    /// </summary>
    public TimeSpan MaxAutoPromoteLag { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How often the owners' leases are looked at.</summary>
    public TimeSpan CheckInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// The administrator's connection to the directory that promotions run with (they move the shard, write the DR log,
    /// lift the replica's guard). Empty: the replicator's own (<c>Replication:Directory:ConnectionString</c>), which its
    /// service role (geo_replicator) cannot promote with.
    /// </summary>
    public string? ConnectionString { get; set; }

    /// <summary>The administrator's connection to each region's server for promotions; empty: <c>Replication:Directory:Servers</c>.</summary>
    public IDictionary<string, string> Servers { get; } = new Dictionary<string, string>(StringComparer.Ordinal);

    /// <summary>Whether a tenant's shards are promoted automatically.</summary>
    public bool Covers(string tenantId) => AutoPromote || AutoPromoteTenants.Contains(tenantId, StringComparer.Ordinal);

    /// <summary>Whether anything is promoted automatically.</summary>
    public bool Enabled => AutoPromote || AutoPromoteTenants.Count > 0;
}

/// <summary>Refuses automatic failover settings that cannot work.</summary>
internal sealed class AutoPromoteOptionsValidator : IValidateOptions<AutoPromoteOptions>
{
    public ValidateOptionsResult Validate(string? name, AutoPromoteOptions options)
    {
        var errors = new List<string>();
        if (options.AutoPromoteAfter <= TimeSpan.Zero)
        {
            errors.Add("Dr:AutoPromoteAfter must be positive");
        }

        if (options.MaxAutoPromoteLag <= TimeSpan.Zero)
        {
            errors.Add("Dr:MaxAutoPromoteLag must be positive");
        }

        if (options.CheckInterval <= TimeSpan.Zero)
        {
            errors.Add("Dr:CheckInterval must be positive");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}

/// <summary>
/// Automatic failover, run by a standby region's geo-replicator: a shard this region stands by for whose owner lease has
/// been expired for <see cref="AutoPromoteOptions.AutoPromoteAfter"/>, and whose replica was caught up within
/// <see cref="AutoPromoteOptions.MaxAutoPromoteLag"/> when its owner was lost, is promoted here with the same steps and DR
/// log as <c>geoctl dr promote</c>. The directory is the only voice: every promoter (each replicator of the region, an
/// operator's command) must first take the shard's driver lease there, and each step is a compare-and-set on the shard's
/// epoch, so two deciders never both promote.
/// </summary>
public sealed partial class AutoPromoter(IOptions<AutoPromoteOptions> options, IOptions<ReplicatorOptions> replicator, ILogger<AutoPromoter> logger, TimeProvider time)
    : BackgroundService
{
    // Only the loop touches these: the last thing said of each shard (logged on change), and when a shard may be tried again.
    private readonly Dictionary<ShardKey, string> _said = [];
    private readonly Dictionary<ShardKey, DateTimeOffset> _retryAt = [];

    /// <summary>Replaces the PostgreSQL directory store (tests, Consul).</summary>
    public Func<IDirectoryStore>? CreateStore { get; init; }

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = options.Value;
        var region = replicator.Value.Region;
        var directory = replicator.Value.Directory;
        if (!settings.Enabled || !directory.Enabled)
        {
            return;
        }

        // Promotions write where the replicator's own role may not: with the administrator's connections when given.
        var connectionString = string.IsNullOrEmpty(settings.ConnectionString) ? directory.ConnectionString! : settings.ConnectionString;
        var servers = settings.Servers.Count > 0 ? settings.Servers : directory.Servers;
        await using var store = CreateStore?.Invoke() ?? new PostgresDirectoryStore(connectionString);
        var databases = new PlatformDatabases(connectionString, new Dictionary<string, string>(servers, StringComparer.Ordinal));
        LogEnabled(logger, region, settings.AutoPromote ? "every tenant" : string.Join(", ", settings.AutoPromoteTenants),
            settings.AutoPromoteAfter.TotalSeconds, settings.MaxAutoPromoteLag.TotalSeconds);
        using var timer = new PeriodicTimer(settings.CheckInterval, time);
        try
        {
            do
            {
                try
                {
                    await CheckAsync(store, databases, region, settings, stoppingToken);
                    _said.Remove(default);
                }
                catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
                {
                    // The directory (or a replica) cannot be read, or a check broke: nothing is decided without it, the
                    // replicator's streams go on, and the next tick tries again.
                    Say(default, $"cannot check: {ex.Message}", LogLevel.Warning);
                }
            }
            while (await timer.WaitForNextTickAsync(stoppingToken));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private async Task CheckAsync(IDirectoryStore store, PlatformDatabases databases, string region, AutoPromoteOptions settings, CancellationToken cancellationToken)
    {
        var data = await store.LoadAsync(cancellationToken);
        var candidates = data.Shards.Where(s => s.StandbyRegion == region && s.State is ShardState.Active or ShardState.Promoting && settings.Covers(s.Key.TenantId)).ToList();
        if (candidates.Count == 0)
        {
            return;
        }

        var leases = await store.LoadOwnerLeasesAsync(cancellationToken);
        foreach (var shard in candidates)
        {
            if (_retryAt.TryGetValue(shard.Key, out var retryAt) && time.GetUtcNow() < retryAt)
            {
                continue;
            }

            try
            {
                await CheckShardAsync(store, databases, region, settings, shard, leases, cancellationToken);
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
            {
                // One shard's failure (its replica unreachable, the directory failing mid-promotion) must not keep the
                // others from failing over: it is said, and the shard is looked at again after the delay.
                Say(shard.Key, $"cannot check or promote: {ex.Message}; tried again in {settings.AutoPromoteAfter.TotalSeconds:F0} s", LogLevel.Error);
                _retryAt[shard.Key] = time.GetUtcNow() + settings.AutoPromoteAfter;
            }
        }
    }

    private async Task CheckShardAsync(IDirectoryStore store, PlatformDatabases databases, string region, AutoPromoteOptions settings, Shard shard, OwnerLeaseView leases,
        CancellationToken cancellationToken)
    {
        var lease = leases.Leases.FirstOrDefault(l => l.Key == shard.Key);
        if (lease is null)
        {
            Say(shard.Key, "its owner never took a lease: the loss of the owner cannot be judged, so it is not promoted automatically", LogLevel.Warning);
            return;
        }

        var expiredFor = leases.DirectoryNow - lease.ExpiresAt;
        if (expiredFor < settings.AutoPromoteAfter)
        {
            Say(shard.Key, expiredFor < TimeSpan.Zero ? "owner holds its lease" : $"owner's lease expired at {lease.ExpiresAt:HH:mm:ss.fff} (directory clock); promoting once it has been expired for {settings.AutoPromoteAfter.TotalSeconds:F0} s",
                expiredFor < TimeSpan.Zero ? LogLevel.Debug : LogLevel.Warning);
            return;
        }

        var position = await ReplicaPromotion.ReadPositionAsync(databases.Database(region, shard.DatabaseName), cancellationToken);
        if (Unready(position, lease, settings) is { } why)
        {
            // Said once per reason (no ticking figure in it: the check runs every second).
            Say(shard.Key, $"owner's lease expired at {lease.ExpiresAt:HH:mm:ss.fff} (directory clock), but not promoted automatically: {why}; promote it by hand ('geoctl dr promote {shard.Key} --to {region}') if that loss is acceptable", LogLevel.Error);
            return;
        }

        if (shard.Lease is { } driver && driver.ExpiresAt > leases.DirectoryNow)
        {
            Say(shard.Key, $"a promotion is being driven by {driver.Holder}", LogLevel.Information);
            return;
        }

        await PromoteAsync(store, databases, region, shard, expiredFor, settings, cancellationToken);
    }

    /// <summary>Why the replica may not be promoted automatically (null when it may): not seeded, or behind by more than the limit.</summary>
    internal static string? Unready(ReplicaPosition? position, OwnerLease lease, AutoPromoteOptions settings)
    {
        if (position is null)
        {
            return "the replica was never seeded";
        }

        var estimate = ReplicaPromotion.Estimate(position);
        if (!estimate.Known)
        {
            return "the data it would lose cannot be estimated (" + estimate.Basis + ")";
        }

        if (estimate.Seconds > settings.MaxAutoPromoteLag.TotalSeconds)
        {
            return $"it would lose {estimate.Seconds:F1} s of commits it heard of, more than Dr:MaxAutoPromoteLag ({settings.MaxAutoPromoteLag.TotalSeconds:F0} s)";
        }

        // Its stream must have been live when the owner was lost (its last lease renewal): a stream broken long before
        // heard nothing of what the owner did since, which the estimate cannot count.
        if (position.HeardAt is not { } heard || heard < lease.RenewedAt - settings.MaxAutoPromoteLag)
        {
            return $"its stream last heard the owner at {(position.HeardAt is { } at ? at.ToString("HH:mm:ss.fff", System.Globalization.CultureInfo.InvariantCulture) : "never")}, more than Dr:MaxAutoPromoteLag ({settings.MaxAutoPromoteLag.TotalSeconds:F0} s) before the owner's last lease renewal ({lease.RenewedAt:HH:mm:ss.fff})";
        }

        return null;
    }

    private async Task PromoteAsync(IDirectoryStore store, PlatformDatabases databases, string region, Shard shard, TimeSpan expiredFor, AutoPromoteOptions settings, CancellationToken cancellationToken)
    {
        LogPromoting(logger, shard.Key.ToString(), region, expiredFor.TotalSeconds);
        var progress = new LoggedProgress(logger, shard.Key.ToString());
        var promotion = new ShardPromotion(store, databases, progress, driver: $"geo-replicator@{region}");
        PromotionOutcome outcome;
        try
        {
            outcome = await promotion.RunAsync(new PromotionRequest(shard.Key, region, Force: false, Operator: $"automatic (geo-replicator in {region}, owner lease expired {expiredFor.TotalSeconds:F0} s)"), cancellationToken);
        }
        catch (PromotionRefusedException ex)
        {
            // Another promoter holds the shard (a second replicator of the region, an operator): it is theirs to finish.
            Say(shard.Key, $"not promoted here: {ex.Message}", LogLevel.Information);
            _retryAt[shard.Key] = time.GetUtcNow() + ShardPromotion.DriverLeaseTtl;
            return;
        }
        catch (PromotionFailedException ex)
        {
            Say(shard.Key, $"automatic promotion failed: {ex.Message}; tried again in {settings.AutoPromoteAfter.TotalSeconds:F0} s", LogLevel.Error);
            _retryAt[shard.Key] = time.GetUtcNow() + settings.AutoPromoteAfter;
            return;
        }

        if (outcome == PromotionOutcome.Done)
        {
            _retryAt.Remove(shard.Key);
            Say(shard.Key, $"promoted automatically to region {region}", LogLevel.Warning);
            return;
        }

        Say(shard.Key, $"automatic promotion ended {outcome} (its steps are in 'geoctl dr log {shard.Key}'); tried again in {settings.AutoPromoteAfter.TotalSeconds:F0} s", LogLevel.Error);
        _retryAt[shard.Key] = time.GetUtcNow() + settings.AutoPromoteAfter;
    }

    /// <summary>Logs what is said of a shard when it changed since the last time (a tick a second must not flood the log).</summary>
    private void Say(ShardKey key, string what, LogLevel level)
    {
        if (_said.TryGetValue(key, out var before) && before == what)
        {
            return;
        }

        _said[key] = what;
        LogShard(logger, level, key == default ? "(all)" : key.ToString(), what);
    }

    /// <summary>The promotion's steps, as log lines.</summary>
    private sealed class LoggedProgress(ILogger logger, string shard) : IProvisioningProgress
    {
        public async Task<T> StepAsync<T>(string name, Func<Task<T>> action, Func<T, string>? describe = null)
        {
            var result = await action();
            var detail = describe?.Invoke(result) ?? "";
            LogStep(logger, shard, name, detail);
            return result;
        }

        public void Line(string text) => LogStep(logger, shard, "", text);
    }

    [LoggerMessage(EventId = 4701, Level = LogLevel.Information, Message = "Automatic failover on in region {Region} for {Tenants}: after an owner's lease has been expired {AfterSeconds} s, if the standby was within {LagSeconds} s")]
    private static partial void LogEnabled(ILogger logger, string region, string tenants, double afterSeconds, double lagSeconds);

    [LoggerMessage(EventId = 4702, Message = "Automatic failover, shard {Shard}: {What}")]
    private static partial void LogShard(ILogger logger, LogLevel level, string shard, string what);

    [LoggerMessage(EventId = 4703, Level = LogLevel.Warning, Message = "Automatic failover, shard {Shard}: its owner's lease has been expired {Seconds:F1} s; promoting it to region {Region}")]
    private static partial void LogPromoting(ILogger logger, string shard, string region, double seconds);

    [LoggerMessage(EventId = 4704, Level = LogLevel.Information, Message = "Automatic failover, shard {Shard}: {Step} {Detail}")]
    private static partial void LogStep(ILogger logger, string shard, string step, string detail);
}

/// <summary>Adds automatic failover to a geo-replicator.</summary>
public static class AutoPromoterServiceCollectionExtensions
{
    /// <summary>Binds <see cref="AutoPromoteOptions"/> from section <c>Dr</c> and runs the <see cref="AutoPromoter"/> (idle unless configured).</summary>
    public static IServiceCollection AddAutoPromotion(this IServiceCollection services)
    {
        services.AddOptionsWithValidateOnStart<AutoPromoteOptions>().BindConfiguration(AutoPromoteOptions.Section);
        services.AddSingleton<IValidateOptions<AutoPromoteOptions>, AutoPromoteOptionsValidator>();
        services.AddHostedService<AutoPromoter>();
        return services;
    }
}

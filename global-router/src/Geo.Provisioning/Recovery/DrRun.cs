using System.Diagnostics;
using System.Globalization;
using Geo.Directory;
using Geo.Directory.Recovery;
using Geo.Directory.Shards;
using Geo.Replication;
using Npgsql;

namespace Geo.Provisioning.Recovery;

/// <summary>
/// One run of a DR procedure on a shard (promote, rejoin): the driver lease in the directory that lets one of them run on a
/// shard at a time, and its steps, each printed with its outcome and recorded with its timing in the directory's DR log.
/// </summary>
/// <param name="directory">The directory: the shard, its driver lease, the DR log.</param>
/// <param name="reporter">Where the steps are printed.</param>
/// <param name="operation">What runs, as the DR log names it (<see cref="DrOperations"/>).</param>
/// <param name="driver">Who drives it, the first part of its driver lease's holder (<c>geoctl</c>, <c>geo-replicator@b</c>).</param>
internal sealed class DrRun(IDirectoryStore directory, IProvisioningProgress reporter, string operation, string driver)
{
    /// <summary>How long a run's driver lease lasts; a killed run blocks a new one at most this long.</summary>
    public static readonly TimeSpan DriverLeaseTtl = TimeSpan.FromSeconds(5);

    /// <summary>Time since the run started.</summary>
    public Stopwatch Clock { get; } = Stopwatch.StartNew();

    /// <summary>Where the steps are printed.</summary>
    public IProvisioningProgress Reporter => reporter;

    /// <summary>
    /// Runs <paramref name="body"/> holding the shard's driver lease, renewed meanwhile; refused when another run holds it. A lease
    /// that cannot be renewed cancels the body's token: it stops where it was, and running the command again resumes.
    /// </summary>
    public async Task<PromotionOutcome> WithDriverLeaseAsync(ShardKey key, Func<CancellationToken, Task<PromotionOutcome>> body, CancellationToken cancellationToken)
    {
        var holder = $"{driver}:{Environment.MachineName}:{Environment.ProcessId.ToString(CultureInfo.InvariantCulture)}:{Guid.NewGuid():N}";
        var lease = await directory.TryAcquireLeaseAsync(key, holder, DriverLeaseTtl, cancellationToken);
        if (!lease.Succeeded)
        {
            var held = lease.Current?.Lease;
            return await RefuseAsync(key, "lease", held is null
                ? $"could not take the {operation} lease of {key} ({lease.Outcome})"
                : $"another promote, switchover or rejoin of {key} is running ({held.Holder}, lease until {held.ExpiresAt:HH:mm:ss.fff}); a killed one's lease lapses within {DriverLeaseTtl.TotalSeconds:F0} s: run again then");
        }

        using var renewing = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var renewal = RenewDriverLeaseAsync(key, holder, renewing);
        try
        {
            return await body(renewing.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            await RecordAsync(key, "lease", DrOutcomes.Failed, $"the {operation} lease could not be renewed (directory unreachable?); stopped where it was: run the command again", null, null);
            reporter.Line($"geoctl: the {operation} lease could not be renewed; stopped. Run the command again to resume.");
            return PromotionOutcome.Failed;
        }
        finally
        {
            await renewing.CancelAsync();
            await renewal;
            try
            {
                await directory.ReleaseLeaseAsync(key, holder, CancellationToken.None);
            }
            catch (Exception ex) when (ex is DirectoryStoreException or NpgsqlException or IOException)
            {
                reporter.Line($"(the {operation} lease was not given back: {ex.Message}; it lapses in {DriverLeaseTtl.TotalSeconds:F0} s)");
            }
        }
    }

    /// <summary>Runs a step: printed, timed and recorded; a failure is recorded and rethrown as <see cref="PromotionFailedException"/>.</summary>
    public async Task<T> StepAsync<T>(ShardKey key, string step, Func<Task<T>> action, Func<T, string> describe)
    {
        var started = Clock.Elapsed;
        try
        {
            var result = await reporter.StepAsync(step, action, describe);
            await RecordAsync(key, step, DrOutcomes.Done, describe(result), null, null, (Clock.Elapsed - started).TotalMilliseconds);
            return result;
        }
        catch (PromotionRefusedException ex)
        {
            await RecordAsync(key, step, DrOutcomes.Refused, ex.Message, null, null, (Clock.Elapsed - started).TotalMilliseconds);
            throw;
        }
        catch (Exception ex) when (ex is PromotionFailedException or ReplicationException or NpgsqlException or DirectoryStoreException or IOException or TimeoutException or HttpRequestException
            or System.Net.Sockets.SocketException)
        {
            await RecordAsync(key, step, DrOutcomes.Failed, ex.Message, null, null, (Clock.Elapsed - started).TotalMilliseconds);
            throw new PromotionFailedException($"step '{step}' failed: {ex.Message}. Nothing after it was done; fix the cause and run the same command again to resume", ex);
        }
    }

    /// <summary>
    /// Waits (at most <paramref name="wait"/>) for a node of <paramref name="region"/> to take the shard's owner lease at
    /// <paramref name="epoch"/>; says how long it took, or that it has not.
    /// </summary>
    public async Task<string> WaitForOwnerLeaseAsync(ShardKey key, string region, long epoch, TimeSpan wait, CancellationToken cancellationToken)
    {
        var waited = Stopwatch.StartNew();
        while (waited.Elapsed < wait)
        {
            var view = await directory.LoadOwnerLeasesAsync(cancellationToken);
            if (view.Leases.Any(l => l.Key == key && l.Holder == region && l.Epoch == epoch && l.ExpiresAt > view.DirectoryNow))
            {
                return $"lease taken after {waited.Elapsed.TotalSeconds:F2} s";
            }

            await Task.Delay(TimeSpan.FromMilliseconds(20), cancellationToken);
        }

        return $"not yet after {wait.TotalSeconds:F0} s: the directory names region {region} the owner, but no node of it took the lease; check that geo-region runs in {region}";
    }

    /// <summary>Ends the client sessions of a database (through a connection to its server's maintenance database); returns how many.</summary>
    public static async Task<int> EndSessionsAsync(NpgsqlConnection maintenance, string database, CancellationToken cancellationToken)
    {
        await using var terminate = new NpgsqlCommand(
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 5000)) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid() AND backend_type = 'client backend'", maintenance);
        terminate.Parameters.Add(new NpgsqlParameter<string> { TypedValue = database });
        return (int)(long)(await terminate.ExecuteScalarAsync(cancellationToken))!;
    }

    /// <summary>The shard's directory row; null when there is none.</summary>
    public async Task<Shard?> FindAsync(ShardKey key, CancellationToken cancellationToken) =>
        (await directory.LoadAsync(cancellationToken)).Shards.FirstOrDefault(s => s.Key == key);

    /// <summary>Records the refusal and throws it.</summary>
    public async Task<PromotionOutcome> RefuseAsync(ShardKey key, string step, string why)
    {
        await RecordAsync(key, step, DrOutcomes.Refused, why, null, null);
        throw new PromotionRefusedException(why);
    }

    /// <summary>Records a DR event; a directory that cannot take it does not stop the run (it is printed too).</summary>
    public async Task RecordAsync(ShardKey key, string step, string outcome, string detail, string? @operator, string? data, double? elapsedMs = null)
    {
        try
        {
            await directory.AppendDrEventAsync(new DrEvent(0, default, key, operation, step, outcome, detail, @operator, data, elapsedMs), CancellationToken.None);
        }
        catch (Exception ex) when (ex is DirectoryStoreException or NpgsqlException or IOException)
        {
            reporter.Line($"(not recorded in the DR log: {ex.Message})");
        }
    }

    private async Task RenewDriverLeaseAsync(ShardKey key, string holder, CancellationTokenSource renewing)
    {
        using var timer = new PeriodicTimer(DriverLeaseTtl / 5);
        try
        {
            while (await timer.WaitForNextTickAsync(renewing.Token))
            {
                var result = await directory.TryAcquireLeaseAsync(key, holder, DriverLeaseTtl, renewing.Token);
                if (!result.Succeeded)
                {
                    await renewing.CancelAsync();
                    return;
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (Exception ex) when (ex is DirectoryStoreException or NpgsqlException or IOException or TimeoutException)
        {
            await renewing.CancelAsync();
        }
    }
}

using System.Net;
using System.Text.RegularExpressions;
using Dapper;
using Geo.Directory;
using Geo.Directory.Nas;
using Geo.Directory.Shards;
using Geo.Schema;
using Geo.Schema.Secrets;
using Npgsql;

namespace Geo.Provisioning;

/// <summary>A NAS to add.</summary>
/// <param name="TenantId">The tenant operating it.</param>
/// <param name="Id">Its id within the tenant.</param>
/// <param name="Address">The source address of its RADIUS packets.</param>
/// <param name="Secret">Its RADIUS shared secret.</param>
/// <param name="Vendor">generic, mikrotik, cisco or juniper (which attributes carry the rate limit).</param>
/// <param name="Primary">The region it sends RADIUS to first.</param>
/// <param name="Backup">The region it fails over to.</param>
/// <param name="CoaPort">Its RFC 5176 CoA/Disconnect port.</param>
/// <param name="RequireMessageAuthenticator">Whether its Access-Requests must carry a Message-Authenticator.</param>
public sealed record NasSpec(string TenantId, string Id, IPAddress Address, string Secret, string Vendor, string Primary, string? Backup,
    int CoaPort = 3799, bool RequireMessageAuthenticator = true);

/// <summary>One NAS as the directory and the tenant's inventory know it (never its secret).</summary>
/// <param name="Device">The directory's record.</param>
/// <param name="Vendor">Its vendor, from the inventory.</param>
/// <param name="CoaPort">Its CoA port, from the inventory.</param>
/// <param name="PreviousSecretValidUntil">While a rotation overlaps: until when the old secret is still accepted.</param>
/// <param name="Shards">How many of the tenant's shard inventories hold it (all of them, normally).</param>
public sealed record NasEntry(NasDevice Device, string? Vendor, int? CoaPort, DateTimeOffset? PreviousSecretValidUntil, int Shards);

/// <summary>
/// The NAS inventory: the directory, plus every shard database of the tenant (with the sealed secret) so any region
/// recognises it. Shards are written first, the directory last: its change notification makes nodes reload.
/// </summary>
public sealed partial class NasProvisioner
{
    private static readonly string[] Vendors = ["generic", "mikrotik", "cisco", "juniper"];
    private readonly IDirectoryStore _directory;
    private readonly PlatformDatabases _databases;
    private readonly SecretBox _secrets;
    private readonly IProvisioningProgress _progress;
    private readonly TimeProvider _time;

    /// <summary>Creates the provisioner; <paramref name="time"/> (the system clock by default) dates a rotation's overlap.</summary>
    public NasProvisioner(IDirectoryStore directory, PlatformDatabases databases, SecretBox secrets, IProvisioningProgress progress, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(directory);
        ArgumentNullException.ThrowIfNull(databases);
        ArgumentNullException.ThrowIfNull(secrets);
        ArgumentNullException.ThrowIfNull(progress);
        _directory = directory;
        _databases = databases;
        _secrets = secrets;
        _progress = progress;
        _time = time ?? TimeProvider.System;
    }

    /// <summary>A NAS id from its address when none is given: <c>nas-10-0-0-1</c>.</summary>
    public static string DefaultId(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        return "nas-" + address.ToString().Replace('.', '-').Replace(':', '-');
    }

    /// <summary>Adds a NAS (idempotent: the same NAS again changes nothing; its secret changes only through a rotation).</summary>
    public async Task AddAsync(NasSpec spec, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var data = await _directory.LoadAsync(cancellationToken);
        if (!NasIdPattern().IsMatch(spec.Id))
        {
            throw new ProvisioningException($"NAS id '{spec.Id}' must be letters, digits, '.', '_' or '-' (at most 63)");
        }

        if (!Vendors.Contains(spec.Vendor, StringComparer.Ordinal))
        {
            throw new ProvisioningException($"vendor '{spec.Vendor}' is not one of {string.Join(", ", Vendors)}");
        }

        if (spec.Secret.Length < 8)
        {
            throw new ProvisioningException("the shared secret must have at least 8 characters (RFC 2865 recommends 16 or more)");
        }

        if (spec.CoaPort is < 1 or > 65535)
        {
            throw new ProvisioningException("--coa-port must be between 1 and 65535");
        }

        foreach (var region in new[] { spec.Primary, spec.Backup }.OfType<string>())
        {
            if (!data.Regions.Any(r => r.Id == region))
            {
                throw new ProvisioningException($"region {region} is not in the directory (regions: {string.Join(", ", data.Regions.Select(r => r.Id))})");
            }
        }

        if (spec.Backup == spec.Primary)
        {
            throw new ProvisioningException("the backup region must differ from the primary region");
        }

        if (data.NasDevices.FirstOrDefault(n => n.Address.Equals(spec.Address) && (n.TenantId != spec.TenantId || n.Id != spec.Id)) is { } taken)
        {
            throw new ProvisioningException($"address {spec.Address} belongs to NAS {taken.Id} of tenant {taken.TenantId}: a NAS address is unique platform-wide");
        }

        var shards = InventoryShards(data, spec.TenantId);
        var sealedSecret = _secrets.Seal(spec.Secret, SecretContext.NasSecret(spec.Id));
        foreach (var shard in shards)
        {
            await _progress.StepAsync($"inventory of {shard.Key}: NAS {spec.Id}", async () =>
            {
                await using var connection = await OpenAsync(shard, cancellationToken);
                await using var upsert = new NpgsqlCommand("""
                    INSERT INTO nas_devices (id, address, secret_enc, vendor, coa_port, require_message_authenticator) VALUES ($1, $2, $3, $4, $5, $6)
                    ON CONFLICT (id) DO UPDATE SET address = EXCLUDED.address, vendor = EXCLUDED.vendor, coa_port = EXCLUDED.coa_port,
                        require_message_authenticator = EXCLUDED.require_message_authenticator, updated_at = now()
                    RETURNING (xmax = 0) AS inserted, secret_enc
                    """, connection);
                upsert.Parameters.Add(new() { Value = spec.Id });
                upsert.Parameters.Add(new() { Value = spec.Address, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Inet });
                upsert.Parameters.Add(new() { Value = sealedSecret });
                upsert.Parameters.Add(new() { Value = spec.Vendor });
                upsert.Parameters.Add(new() { Value = spec.CoaPort });
                upsert.Parameters.Add(new() { Value = spec.RequireMessageAuthenticator });
                await using var reader = await upsert.ExecuteReaderAsync(cancellationToken);
                await reader.ReadAsync(cancellationToken);
                if (reader.GetBoolean(0))
                {
                    return "added";
                }

                return _secrets.TryOpenString((byte[])reader[1], SecretContext.NasSecret(spec.Id), out var current) && current == spec.Secret
                    ? "present"
                    : "present with another secret: kept (change it with 'nas rotate-secret')";
            }, outcome => outcome);
        }

        await _progress.StepAsync($"directory: NAS {spec.Id} {spec.Address} (primary {spec.Primary}{(spec.Backup is { } b ? $", backup {b}" : "")})",
            () => _directory.UpsertNasAsync(new NasDevice(spec.TenantId, spec.Id, spec.Address, spec.Primary, spec.Backup), cancellationToken));
    }

    /// <summary>Removes a NAS from every inventory of its tenant and from the directory; false when it was not there.</summary>
    public async Task<bool> RemoveAsync(string tenantId, string nasId, CancellationToken cancellationToken)
    {
        var data = await _directory.LoadAsync(cancellationToken);
        var found = data.NasDevices.Any(n => n.TenantId == tenantId && n.Id == nasId);
        foreach (var shard in InventoryShards(data, tenantId, requireAny: false))
        {
            var removed = await _progress.StepAsync($"inventory of {shard.Key}: remove NAS {nasId}", async () =>
            {
                await using var connection = await OpenAsync(shard, cancellationToken);
                await using var delete = new NpgsqlCommand("DELETE FROM nas_devices WHERE id = $1", connection);
                delete.Parameters.Add(new() { Value = nasId });
                return await delete.ExecuteNonQueryAsync(cancellationToken) == 1;
            }, r => r ? "removed" : "not there");
            found |= removed;
        }

        await _progress.StepAsync($"directory: remove NAS {nasId}", () => _directory.DeleteNasAsync(tenantId, nasId, cancellationToken), r => r ? "removed" : "not there");
        return found;
    }

    /// <summary>
    /// Starts a secret rotation: the new secret is valid at once, the old one until <paramref name="overlap"/> has
    /// passed, so the NAS can be re-keyed without an outage. Running it again with the same new secret changes
    /// nothing (the old secret is not lost).
    /// </summary>
    public async Task<DateTimeOffset> RotateSecretAsync(string tenantId, string nasId, string newSecret, TimeSpan overlap, bool force, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(newSecret);
        if (newSecret.Length < 8)
        {
            throw new ProvisioningException("the shared secret must have at least 8 characters (RFC 2865 recommends 16 or more)");
        }

        if (overlap < TimeSpan.Zero)
        {
            throw new ProvisioningException("--overlap must not be negative");
        }

        var data = await _directory.LoadAsync(cancellationToken);
        var device = Find(data, tenantId, nasId);
        var sealedSecret = _secrets.Seal(newSecret, SecretContext.NasSecret(nasId));
        var until = _time.GetUtcNow() + overlap;
        foreach (var shard in InventoryShards(data, tenantId))
        {
            until = await _progress.StepAsync($"inventory of {shard.Key}: rotate secret of {nasId}", async () =>
            {
                await using var connection = await OpenAsync(shard, cancellationToken);
                await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
                await using var read = new NpgsqlCommand("SELECT secret_enc, previous_secret_expires_at FROM nas_devices WHERE id = $1 FOR UPDATE", connection, transaction);
                read.Parameters.Add(new() { Value = nasId });
                byte[] current;
                DateTimeOffset? expires;
                await using (var reader = await read.ExecuteReaderAsync(cancellationToken))
                {
                    if (!await reader.ReadAsync(cancellationToken))
                    {
                        throw new ProvisioningException($"NAS {nasId} is missing from the inventory of {shard.Key}: add it again with 'nas add' first");
                    }

                    current = (byte[])reader[0];
                    expires = reader.IsDBNull(1) ? null : reader.GetFieldValue<DateTimeOffset>(1);
                }

                if (_secrets.TryOpenString(current, SecretContext.NasSecret(nasId), out var currentSecret) && currentSecret == newSecret)
                {
                    return expires ?? until;
                }

                // Two secrets at most: a second rotation inside the overlap would drop the oldest one, which a NAS not yet
                // re-keyed still uses.
                if (expires > _time.GetUtcNow() && !force)
                {
                    throw new ProvisioningException(
                        $"NAS {nasId} is inside the overlap of a rotation (old secret accepted until {expires:u}): end it with --finish once the NAS uses the current secret, or pass --force to drop the old secret now");
                }

                await using var rotate = new NpgsqlCommand("""
                    UPDATE nas_devices SET previous_secret_enc = secret_enc, previous_secret_expires_at = $3, secret_enc = $2, updated_at = now() WHERE id = $1
                    """, connection, transaction);
                rotate.Parameters.Add(new() { Value = nasId });
                rotate.Parameters.Add(new() { Value = sealedSecret });
                rotate.Parameters.Add(new() { Value = until });
                await rotate.ExecuteNonQueryAsync(cancellationToken);
                await transaction.CommitAsync(cancellationToken);
                return until;
            }, u => $"old secret accepted until {u:u}");
        }

        // Touching the directory's record notifies the region nodes, which reload the inventory.
        await _progress.StepAsync("directory: notify region nodes", () => _directory.UpsertNasAsync(device, cancellationToken));
        return until;
    }

    /// <summary>Ends a rotation's overlap now: only the new secret is accepted from here on.</summary>
    public async Task FinishRotationAsync(string tenantId, string nasId, CancellationToken cancellationToken)
    {
        var data = await _directory.LoadAsync(cancellationToken);
        var device = Find(data, tenantId, nasId);
        foreach (var shard in InventoryShards(data, tenantId))
        {
            await _progress.StepAsync($"inventory of {shard.Key}: retire the old secret of {nasId}", async () =>
            {
                await using var connection = await OpenAsync(shard, cancellationToken);
                await using var finish = new NpgsqlCommand(
                    "UPDATE nas_devices SET previous_secret_enc = NULL, previous_secret_expires_at = NULL, updated_at = now() WHERE id = $1", connection);
                finish.Parameters.Add(new() { Value = nasId });
                await finish.ExecuteNonQueryAsync(cancellationToken);
            });
        }

        await _progress.StepAsync("directory: notify region nodes", () => _directory.UpsertNasAsync(device, cancellationToken));
    }

    /// <summary>The NAS of one tenant (or all), with what the inventories say of them.</summary>
    public async Task<IReadOnlyList<NasEntry>> ListAsync(string? tenantId, CancellationToken cancellationToken)
    {
        var data = await _directory.LoadAsync(cancellationToken);
        var now = _time.GetUtcNow();
        var entries = new List<NasEntry>();
        foreach (var group in data.NasDevices.Where(n => tenantId is null || n.TenantId == tenantId).GroupBy(n => n.TenantId, StringComparer.Ordinal))
        {
            var inventory = new Dictionary<string, (string Vendor, int CoaPort, DateTimeOffset? Until, int Shards)>(StringComparer.Ordinal);
            foreach (var shard in InventoryShards(data, group.Key, requireAny: false))
            {
                await using var connection = await OpenAsync(shard, cancellationToken);
                var rows = await connection.QueryAsync<InventoryRow>(new CommandDefinition(
                    "SELECT id AS Id, vendor AS Vendor, coa_port AS CoaPort, previous_secret_expires_at AS PreviousSecretExpiresAt FROM nas_devices",
                    cancellationToken: cancellationToken));
                foreach (var row in rows)
                {
                    // timestamptz comes back as a UTC DateTime.
                    var until = row.PreviousSecretExpiresAt is { } at ? new DateTimeOffset(at.Ticks, TimeSpan.Zero) : (DateTimeOffset?)null;
                    var seen = inventory.GetValueOrDefault(row.Id);
                    inventory[row.Id] = (row.Vendor, row.CoaPort, until > seen.Until || seen.Until is null ? until : seen.Until, seen.Shards + 1);
                }
            }

            foreach (var device in group.OrderBy(n => n.Id, StringComparer.Ordinal))
            {
                var known = inventory.TryGetValue(device.Id, out var row);
                var until = known && row.Until > now ? row.Until : null;
                entries.Add(new NasEntry(device, known ? row.Vendor : null, known ? row.CoaPort : null, until, known ? row.Shards : 0));
            }
        }

        return entries;
    }

    /// <summary>What the listing reads of a NAS in one shard's inventory.</summary>
    private sealed record InventoryRow(string Id, string Vendor, int CoaPort, DateTime? PreviousSecretExpiresAt);

    private static NasDevice Find(DirectoryData data, string tenantId, string nasId) =>
        data.NasDevices.FirstOrDefault(n => n.TenantId == tenantId && n.Id == nasId)
            ?? throw new ProvisioningException($"tenant {tenantId} has no NAS {nasId} ('nas list --tenant {tenantId}' shows its NAS)");

    /// <summary>The shards whose databases hold the tenant's NAS inventory: every shard not being retired.</summary>
    private static List<Shard> InventoryShards(DirectoryData data, string tenantId, bool requireAny = true)
    {
        if (!data.Tenants.Any(t => t.Id == tenantId))
        {
            throw new ProvisioningException($"no tenant {tenantId}");
        }

        // A shard being created gets the inventory copied when its creation reaches that step; one being retired is going.
        var shards = data.Shards.Where(s => s.Key.TenantId == tenantId && s.State is not (ShardState.Retiring or ShardState.Provisioning)).ToList();
        if (shards.Count == 0 && requireAny)
        {
            throw new ProvisioningException($"tenant {tenantId} has no shard in service to hold its NAS inventory: finish 'tenant create' (or 'tenant add-region') first");
        }

        return shards;
    }

    private async Task<NpgsqlConnection> OpenAsync(Shard shard, CancellationToken cancellationToken)
    {
        var connection = new NpgsqlConnection(_databases.Database(shard.OwnerRegion, shard.DatabaseName));
        try
        {
            await connection.OpenAsync(cancellationToken);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$", RegexOptions.CultureInvariant)]
    private static partial Regex NasIdPattern();
}

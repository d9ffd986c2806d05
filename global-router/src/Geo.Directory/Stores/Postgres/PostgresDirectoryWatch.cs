using Geo.Directory.Placement;
using Npgsql;

namespace Geo.Directory.Stores.Postgres;

/// <summary>
/// A LISTEN connection turned into a change feed. Notifications are collected by the connection's event while
/// <see cref="WaitAsync"/> reads; an idle connection is pinged now and then so that a dead one is noticed.
/// </summary>
internal sealed class PostgresDirectoryWatch : IDirectoryWatch
{
    private static readonly TimeSpan PingInterval = TimeSpan.FromSeconds(10);

    private readonly NpgsqlConnection _connection;
    private readonly List<PlacementChange> _placements = [];
    private bool _controlPlane;
    private bool _placementsReset;

    public PostgresDirectoryWatch(NpgsqlConnection connection)
    {
        _connection = connection;
        _connection.Notification += OnNotification;
    }

    public async Task<DirectoryChange> WaitAsync(CancellationToken cancellationToken)
    {
        while (!_controlPlane && !_placementsReset && _placements.Count == 0)
        {
            if (!await _connection.WaitAsync(PingInterval, cancellationToken))
            {
                await using var ping = new NpgsqlCommand("SELECT 1", _connection);
                await ping.ExecuteScalarAsync(cancellationToken);
            }
        }

        var change = new DirectoryChange(_controlPlane, _placementsReset, _placementsReset ? [] : [.. _placements]);
        _controlPlane = false;
        _placementsReset = false;
        _placements.Clear();
        return change;
    }

    public ValueTask DisposeAsync()
    {
        _connection.Notification -= OnNotification;
        return _connection.DisposeAsync();
    }

    private void OnNotification(object sender, NpgsqlNotificationEventArgs e)
    {
        if (e.Channel == PostgresDirectoryStore.DirectoryChannel)
        {
            _controlPlane = true;
        }
        else if (e.Channel == PostgresDirectoryStore.PlacementsChannel)
        {
            if (TryParsePlacement(e.Payload, out var change))
            {
                _placements.Add(change);
            }
            else
            {
                _placementsReset = true;
            }
        }
    }

    /// <summary>Parses '+tenant/region/username' or '-tenant/username' (see migration 0002_directory_placements).</summary>
    internal static bool TryParsePlacement(string payload, out PlacementChange change)
    {
        change = default;
        if (payload.Length < 4 || payload[0] is not ('+' or '-'))
        {
            return false;
        }

        var tenantEnd = payload.IndexOf('/', 1);
        if (tenantEnd <= 1)
        {
            return false;
        }

        var tenant = payload[1..tenantEnd];
        if (payload[0] == '-')
        {
            change = new PlacementChange(tenant, payload[(tenantEnd + 1)..], null);
            return change.Username.Length > 0;
        }

        var regionEnd = payload.IndexOf('/', tenantEnd + 1);
        if (regionEnd <= tenantEnd + 1 || regionEnd == payload.Length - 1)
        {
            return false;
        }

        change = new PlacementChange(tenant, payload[(regionEnd + 1)..], payload[(tenantEnd + 1)..regionEnd]);
        return true;
    }
}

namespace Geo.Ctl.Demo;

/// <summary>A demo ISP: its id, name and the loopback address block of its NAS devices (127.0.&lt;block&gt;.&lt;region #&gt;).</summary>
internal sealed record DemoTenant(string Id, string DisplayName, int AddressBlock);

/// <summary>A demo NAS: homed in one region, with the next region as its backup endpoint.</summary>
internal sealed record DemoNas(string TenantId, string Id, string Address, string Vendor, string PrimaryRegion, string? BackupRegion);

/// <summary>The demo data of the local stack: two ISPs homed in every region, their plans and NAS devices.</summary>
internal static class DemoData
{
    public static IReadOnlyList<DemoTenant> Tenants { get; } =
    [
        new("acme", "Acme Broadband", 10),
        new("zenith", "Zenith Mobile", 20),
    ];

    /// <summary>
    /// The plans every demo shard offers (inserted as SQL, so the columns read as the schema does):
    /// flat home and fiber plans, a fair-use plan that throttles, and a prepaid plan that disconnects.
    /// </summary>
    public const string PlansSql = """
        INSERT INTO plans (id, display_name, download_kbps, upload_kbps, session_timeout_s, interim_interval_s, simultaneous_use,
                           data_quota_bytes, validity_days, reset_day, price_per_mb_micros, exhaustion_action,
                           throttle_download_kbps, throttle_upload_kbps)
        VALUES ('home-50',       'Home 50M',          50000,  10000, 86400, 300, 1, NULL,         NULL, NULL, 0,    'disconnect', NULL, NULL),
               ('fiber-500',     'Fiber 500M',        500000, 100000, 86400, 300, 2, NULL,        NULL, NULL, 0,    'disconnect', NULL, NULL),
               ('fair-use-100g', 'Fair use 100 GB',   100000, 20000, 86400, 300, 1, 100000000000, NULL, 1,    0,    'throttle',   1024, 512),
               ('prepaid-5g',    'Prepaid 5 GB',      20000,  5000,  3600,  60,  1, 5000000000,   30,   NULL, 2000, 'disconnect', NULL, NULL)
        ON CONFLICT (id) DO NOTHING
        """;

    /// <summary>Plan of the i-th demo subscriber: half home, then fiber, fair use and prepaid.</summary>
    public static string PlanOf(int index) => (index % 10) switch
    {
        < 5 => "home-50",
        < 7 => "fiber-500",
        < 9 => "fair-use-100g",
        _ => "prepaid-5g",
    };

    /// <summary>One subscriber in a hundred is suspended, so that rejects can be tried on demo data.</summary>
    public static bool IsSuspended(int index) => index % 100 == 99;

    public static string Username(string tenantId, string region, int index) => $"{tenantId}-{region}-{index:D6}";

    /// <summary>One NAS per tenant and region, primary there, backed up by the next region in the list.</summary>
    public static IReadOnlyList<DemoNas> NasDevices(DemoTenant tenant, IReadOnlyList<string> regions)
    {
        var devices = new List<DemoNas>(regions.Count);
        for (var i = 0; i < regions.Count; i++)
        {
            devices.Add(new DemoNas(
                tenant.Id,
                $"{tenant.Id}-bng-{regions[i]}",
                $"127.0.{tenant.AddressBlock}.{i + 1}",
                i % 2 == 0 ? "mikrotik" : "cisco",
                regions[i],
                regions.Count > 1 ? regions[(i + 1) % regions.Count] : null));
        }

        return devices;
    }

    /// <summary>The standby of a shard homed in <paramref name="home"/>: the next region in the list.</summary>
    public static string? StandbyOf(string home, IReadOnlyList<string> regions)
    {
        if (regions.Count < 2)
        {
            return null;
        }

        var index = regions.ToList().IndexOf(home);
        return regions[(index + 1) % regions.Count];
    }
}

using Geo.Engines;
using Geo.Testing;
using Microsoft.Playwright;
using Xunit.Abstractions;

namespace Geo.EndToEnd.Tests;

/// <summary>
/// The operator console in a real browser (Debian's Chromium, driven by Playwright) against the local stack: sign in with
/// the operator key (a tenant's key is refused), both regions shown healthy, a switchover run from the page moves the
/// shard in the directory and the page shows the new owner and the event, a change without the CSRF token is refused,
/// region a's node killed shows as down within seconds, a promotion run from the page (after it showed the data-loss
/// estimate) makes the standby the owner, and a NAS's configuration downloads without its secret. Screenshots go to <c>GEO_SCREENSHOTS_DIR</c> when set
/// (docs/console.md's pictures are taken this way), else to the test's folder.
/// </summary>
public sealed class ConsoleBrowserTests(TwoRegions stack, ITestOutputHelper log) : IClassFixture<TwoRegions>
{
    private const string ChromiumPath = "/usr/bin/chromium";

    // Chromium as root in a closed network: no sandbox, nothing fetched in the background.
    private static readonly string[] ChromiumArgs =
    [
        "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync",
    ];

    [Fact]
    public async Task Console_SignInSwitchoverAndRegionLoss_ShownAsTheDirectorySaysIt()
    {
        await stack.SeededReplicaAsync("acme", "a", "b");
        await stack.SeededReplicaAsync("zenith", "a", "b");
        var keep = Environment.GetEnvironmentVariable("GEO_SCREENSHOTS_DIR");
        var screenshots = keep is { Length: > 0 } ? keep : TestFolders.Create("console-shots");
        System.IO.Directory.CreateDirectory(screenshots);
        try
        {
            await DriveAsync(screenshots);
        }
        finally
        {
            if (keep is not { Length: > 0 })
            {
                System.IO.Directory.Delete(screenshots, recursive: true);
            }
        }
    }

    private async Task DriveAsync(string screenshots)
    {
        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new() { ExecutablePath = ChromiumPath, Headless = true, Args = ChromiumArgs });
        var context = await browser.NewContextAsync(new() { ViewportSize = new() { Width = 1280, Height = 800 } });
        var page = await context.NewPageAsync();
        page.Console += (_, message) => log.WriteLine($"browser: {message.Text}");
        await page.GotoAsync(new Uri(stack.Router, "/console").ToString());

        // A tenant's API key does not open the console.
        await page.FillAsync("#operator-key", (await File.ReadAllTextAsync(stack.Layout.ApiKeyFile("acme"))).Trim());
        await page.ClickAsync("#signin-submit");
        await Assertions.Expect(page.Locator("#signin-error")).ToContainTextAsync("tenant's API key");
        await page.ScreenshotAsync(new() { Path = Path.Combine(screenshots, "console-signin.png") });

        // The operator key does; both regions are healthy.
        await page.FillAsync("#operator-key", (await File.ReadAllTextAsync(stack.Layout.OperatorKeyFile)).Trim());
        await page.ClickAsync("#signin-submit");
        await Assertions.Expect(page.Locator("#operator-name")).ToHaveTextAsync("bootstrap");
        foreach (var region in new[] { "a", "b" })
        {
            await Assertions.Expect(page.Locator($".health[data-region='{region}']")).ToHaveTextAsync("healthy", new() { Timeout = 15_000 });
        }

        await Assertions.Expect(page.Locator("tr[data-shard='acme@a'] .owner")).ToHaveTextAsync("a");
        // Sampled from the regions' databases while the console is open: the shard's subscribers and its standby streaming.
        await Assertions.Expect(page.Locator("tr[data-shard='acme@a'] .replication")).ToContainTextAsync("streaming", new() { Timeout = 20_000 });
        await Assertions.Expect(page.Locator("tr[data-shard='acme@a'] .subscribers")).Not.ToHaveTextAsync("—");
        await page.ScreenshotAsync(new() { Path = Path.Combine(screenshots, "console-overview.png"), FullPage = true });

        // A NAS's configuration downloads with its home region first and a placeholder for the secret.
        var download = await page.RunAndWaitForDownloadAsync(() => page.ClickAsync("tr[data-nas='acme/acme-bng-a'] a.download"));
        var config = await File.ReadAllTextAsync((await download.PathAsync())!);
        var servers = config.Split('\n').Where(l => l.StartsWith("/radius add", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, servers.Count);
        Assert.EndsWith("comment=\"geo region a\"", servers[0], StringComparison.Ordinal);
        Assert.Contains("secret=\"GEO-NAS-SECRET\"", servers[0], StringComparison.Ordinal);
        Assert.DoesNotContain(stack.NasSecret("acme-bng-a"), config, StringComparison.Ordinal);

        // A change without the session's CSRF token is refused, even from the signed-in page.
        var status = await page.EvaluateAsync<int>(
            "async () => (await fetch('/console/api/switchover', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ shard: 'acme@a', to: 'b', confirm: 'acme@a' }) })).status");
        Assert.Equal(403, status);

        // The switchover from the page: the confirm button waits for the shard's name, typed.
        await page.ClickAsync("button[data-action='switchover'][data-shard='acme@a']");
        await Assertions.Expect(page.Locator("#confirm-switchover")).ToBeDisabledAsync();
        await page.FillAsync("#confirm-shard", "acme@");
        await Assertions.Expect(page.Locator("#confirm-switchover")).ToBeDisabledAsync();
        await page.FillAsync("#confirm-shard", "acme@a");
        await page.ScreenshotAsync(new() { Path = Path.Combine(screenshots, "console-switchover.png") });
        await page.ClickAsync("#confirm-switchover");
        await Assertions.Expect(page.Locator("#sw-close")).ToBeVisibleAsync(new() { Timeout = 90_000 });
        log.WriteLine($"switchover dialog: {await page.Locator("#sw-status").InnerTextAsync()}");
        await page.ClickAsync("#sw-close");
        await Assertions.Expect(page.Locator("tr[data-shard='acme@a'] .owner")).ToHaveTextAsync("b", new() { Timeout = 15_000 });
        Assert.Equal("b", await Sql.ScalarAsync<string>(stack.DirectoryConnectionString, "SELECT owner_region FROM shards WHERE tenant_id = 'acme' AND home_region = 'a'"));
        await Assertions.Expect(page.Locator("#events-body")).ToContainTextAsync("switchover");
        var audited = await Sql.QueryAsync<string>(stack.DirectoryConnectionString, "SELECT action || ' ' || result FROM audit_log WHERE action LIKE 'dr.%' ORDER BY id");
        Assert.Equal(["dr.switchover refused", "dr.switchover ok"], audited);

        // Region a's node lost: the overview says so within seconds, without a reload.
        ProcessTree.Kill(stack.RegionNode("a").Pid!.Value);
        await Assertions.Expect(page.Locator(".health[data-region='a']")).ToHaveTextAsync("down", new() { Timeout = 15_000 });
        await Assertions.Expect(page.Locator(".health[data-region='b']")).ToHaveTextAsync("healthy");
        await page.ScreenshotAsync(new() { Path = Path.Combine(screenshots, "console-region-down.png"), FullPage = true });

        // Region a stays lost: zenith@a is promoted at b from the page, after the dialog has shown what it would lose.
        await page.ClickAsync("button[data-action='promote'][data-shard='zenith@a']");
        await Assertions.Expect(page.Locator("#promote-estimate")).ToContainTextAsync("Data lost if promoted now", new() { Timeout = 15_000 });
        await page.FillAsync("#confirm-shard", "zenith@a");
        await page.ScreenshotAsync(new() { Path = Path.Combine(screenshots, "console-promote.png") });
        await page.ClickAsync("#confirm-switchover");
        await Assertions.Expect(page.Locator("#sw-close")).ToBeVisibleAsync(new() { Timeout = 90_000 });
        log.WriteLine($"promote dialog: {await page.Locator("#sw-status").InnerTextAsync()}");
        await page.ClickAsync("#sw-close");
        await Assertions.Expect(page.Locator("tr[data-shard='zenith@a'] .owner")).ToHaveTextAsync("b", new() { Timeout = 15_000 });
        Assert.Equal("b", await Sql.ScalarAsync<string>(stack.DirectoryConnectionString, "SELECT owner_region FROM shards WHERE tenant_id = 'zenith' AND home_region = 'a'"));
        await Assertions.Expect(page.Locator("#events-body")).ToContainTextAsync("promote");
        Assert.Equal(["dr.switchover refused", "dr.switchover ok", "dr.promote ok"],
            await Sql.QueryAsync<string>(stack.DirectoryConnectionString, "SELECT action || ' ' || result FROM audit_log WHERE action LIKE 'dr.%' ORDER BY id"));

        // Readable on a phone-sized screen: the shards table scrolls inside its wrapper instead of widening the page.
        await page.SetViewportSizeAsync(390, 844);
        var overflow = await page.EvaluateAsync<int>("() => document.documentElement.scrollWidth - document.documentElement.clientWidth");
        var widest = overflow <= 0 ? "" : await page.EvaluateAsync<string>(
            "() => [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth && !(e.parentElement && e.parentElement.closest('.table-wrap')))" +
            ".slice(0, 8).map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (e.className ? '.' + String(e.className).split(' ').join('.') : '') + ' ' + Math.round(e.getBoundingClientRect().width)).join(', ')");
        Assert.True(overflow <= 0, $"the page is {overflow} px wider than a phone screen: {widest}");
        await page.ScreenshotAsync(new() { Path = Path.Combine(screenshots, "console-phone.png"), FullPage = true });
    }
}

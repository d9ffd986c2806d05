using System.Net;
using Geo.Directory.Nas;
using Geo.Schema.Secrets;
using Geo.Testing;
using Microsoft.Extensions.Time.Testing;

namespace Geo.Provisioning.IntegrationTests;

public sealed class NasProvisionerTests
{
    private const string OldSecret = "old-secret-0001";
    private const string NewSecret = "new-secret-0002";
    private const string ThirdSecret = "third-secret-03";
    private static readonly DateTimeOffset Start = new(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Overlap = TimeSpan.FromHours(1);

    internal static NasSpec Spec(Platform platform, string id = "bng-1", string secret = OldSecret, string vendor = "mikrotik", string address = "127.0.44.1") =>
        new(platform.TenantId, id, IPAddress.Parse(address), secret, vendor, "a", "b", CoaPort: 3799);

    [Fact]
    public async Task AddAsync_TenantWithTwoShards_InEveryInventoryAndTheDirectory()
    {
        await using var platform = await TenantWithShardsAsync("a", "b");

        await platform.Nas().AddAsync(Spec(platform), default);

        foreach (var home in new[] { "a", "b" })
        {
            Assert.Equal(OldSecret, await SecretAsync(platform, home, "secret_enc"));
            Assert.Equal("mikrotik 127.0.44.1", await Sql.ScalarAsync<string>(platform.Shard(home), "SELECT vendor || ' ' || host(address) FROM nas_devices WHERE id = 'bng-1'"));
        }

        var device = Assert.Single((await platform.Directory.LoadAsync(default)).NasDevices, n => n.TenantId == platform.TenantId);
        Assert.Equal(new NasDevice(platform.TenantId, "bng-1", IPAddress.Parse("127.0.44.1"), "a", "b"), device);
        var listed = Assert.Single(await platform.Nas().ListAsync(platform.TenantId, default));
        Assert.Equal(("mikrotik", 3799, 2, (DateTimeOffset?)null), (listed.Vendor, listed.CoaPort, listed.Shards, listed.PreviousSecretValidUntil));
    }

    [Fact]
    public async Task AddAsync_AgainWithAnotherSecret_KeepsTheSecretAndSaysSo()
    {
        await using var platform = await TenantWithShardsAsync("a");
        await platform.Nas().AddAsync(Spec(platform), default);

        await platform.Nas().AddAsync(Spec(platform, secret: NewSecret), default);

        Assert.Equal(OldSecret, await SecretAsync(platform, "a", "secret_enc"));
        Assert.Contains(platform.Progress.Lines, l => l.Contains("present with another secret: kept", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("bad id", OldSecret, "generic", "127.0.44.9", "must be letters, digits")]
    [InlineData("bng-9", "short", "generic", "127.0.44.9", "at least 8 characters")]
    [InlineData("bng-9", OldSecret, "huawei", "127.0.44.9", "vendor 'huawei' is not one of")]
    [InlineData("bng-9", OldSecret, "generic", "127.0.44.1", "belongs to NAS bng-1")]
    public async Task AddAsync_BadInput_ClearExceptionAndNothingWritten(string id, string secret, string vendor, string address, string expected)
    {
        await using var platform = await TenantWithShardsAsync("a");
        await platform.Nas().AddAsync(Spec(platform), default);

        var refused = await Assert.ThrowsAsync<ProvisioningException>(() => platform.Nas().AddAsync(Spec(platform, id, secret, vendor, address), default));

        Assert.Contains(expected, refused.Message, StringComparison.Ordinal);
        Assert.Equal(["bng-1"], await Sql.QueryAsync<string>(platform.Shard("a"), "SELECT id FROM nas_devices"));
        Assert.Single((await platform.Directory.LoadAsync(default)).NasDevices, n => n.TenantId == platform.TenantId);
    }

    [Fact]
    public async Task AddAsync_UnknownTenant_ClearException()
    {
        await using var platform = await Platform.CreateAsync();

        var refused = await Assert.ThrowsAsync<ProvisioningException>(() => platform.Nas().AddAsync(Spec(platform), default));

        Assert.Equal($"no tenant {platform.TenantId}", refused.Message);
    }

    [Fact]
    public async Task RotateSecretAsync_WithOverlap_BothSecretsValidUntilTheOverlapEnds()
    {
        await using var platform = await TenantWithShardsAsync("a", "b");
        var time = new FakeTimeProvider(Start);
        await platform.Nas(time).AddAsync(Spec(platform), default);

        var until = await platform.Nas(time).RotateSecretAsync(platform.TenantId, "bng-1", NewSecret, Overlap, force: false, default);

        Assert.Equal(Start + Overlap, until);
        foreach (var home in new[] { "a", "b" })
        {
            Assert.Equal(NewSecret, await SecretAsync(platform, home, "secret_enc"));
            Assert.Equal(OldSecret, await SecretAsync(platform, home, "previous_secret_enc"));
            Assert.Equal(Start + Overlap, await Sql.ScalarAsync<DateTime>(platform.Shard(home), "SELECT previous_secret_expires_at FROM nas_devices WHERE id = 'bng-1'"));
        }

        Assert.Equal(Start + Overlap, Assert.Single(await platform.Nas(time).ListAsync(platform.TenantId, default)).PreviousSecretValidUntil);
        time.Advance(Overlap + TimeSpan.FromSeconds(1));
        Assert.Null(Assert.Single(await platform.Nas(time).ListAsync(platform.TenantId, default)).PreviousSecretValidUntil);
    }

    [Fact]
    public async Task RotateSecretAsync_InsideTheOverlap_RefusedUnlessForced()
    {
        var time = new FakeTimeProvider(Start);
        await using var platform = await RotatedAsync(time);
        time.Advance(Overlap / 2);

        var refused = await Assert.ThrowsAsync<ProvisioningException>(() =>
            platform.Nas(time).RotateSecretAsync(platform.TenantId, "bng-1", ThirdSecret, Overlap, force: false, default));
        Assert.Contains("inside the overlap", refused.Message, StringComparison.Ordinal);
        Assert.Equal((NewSecret, OldSecret), await SecretsAsync(platform));

        await platform.Nas(time).RotateSecretAsync(platform.TenantId, "bng-1", ThirdSecret, Overlap, force: true, default);

        Assert.Equal((ThirdSecret, NewSecret), await SecretsAsync(platform));
    }

    [Fact]
    public async Task RotateSecretAsync_AfterTheOverlap_RotatesAgain()
    {
        var time = new FakeTimeProvider(Start);
        await using var platform = await RotatedAsync(time);
        time.Advance(Overlap + TimeSpan.FromSeconds(1));

        var until = await platform.Nas(time).RotateSecretAsync(platform.TenantId, "bng-1", ThirdSecret, Overlap, force: false, default);

        Assert.Equal(time.GetUtcNow() + Overlap, until);
        Assert.Equal((ThirdSecret, NewSecret), await SecretsAsync(platform));
    }

    [Fact]
    public async Task RotateSecretAsync_SameNewSecretAgain_OldSecretAndDeadlineKept()
    {
        var time = new FakeTimeProvider(Start);
        await using var platform = await RotatedAsync(time);
        time.Advance(TimeSpan.FromMinutes(10));

        var again = await platform.Nas(time).RotateSecretAsync(platform.TenantId, "bng-1", NewSecret, Overlap, force: false, default);

        Assert.Equal(Start + Overlap, again);
        Assert.Equal(OldSecret, await SecretAsync(platform, "a", "previous_secret_enc"));
    }

    [Fact]
    public async Task FinishRotationAsync_InsideTheOverlap_OnlyTheNewSecretLeft()
    {
        var time = new FakeTimeProvider(Start);
        await using var platform = await RotatedAsync(time);

        await platform.Nas(time).FinishRotationAsync(platform.TenantId, "bng-1", default);

        Assert.Equal(NewSecret, await SecretAsync(platform, "a", "secret_enc"));
        Assert.Null(await SecretAsync(platform, "a", "previous_secret_enc"));
        Assert.Null(Assert.Single(await platform.Nas(time).ListAsync(platform.TenantId, default)).PreviousSecretValidUntil);
    }

    [Fact]
    public async Task RemoveAsync_KnownNas_GoneFromEveryInventoryAndTheDirectory()
    {
        await using var platform = await TenantWithShardsAsync("a", "b");
        await platform.Nas().AddAsync(Spec(platform), default);

        Assert.True(await platform.Nas().RemoveAsync(platform.TenantId, "bng-1", default));

        Assert.Empty(await Sql.QueryAsync<string>(platform.Shard("a"), "SELECT id FROM nas_devices"));
        Assert.Empty(await Sql.QueryAsync<string>(platform.Shard("b"), "SELECT id FROM nas_devices"));
        Assert.DoesNotContain((await platform.Directory.LoadAsync(default)).NasDevices, n => n.TenantId == platform.TenantId);
        Assert.False(await platform.Nas().RemoveAsync(platform.TenantId, "bng-1", default));
    }

    private static async Task<Platform> TenantWithShardsAsync(params string[] homes)
    {
        var platform = await Platform.CreateAsync();
        await platform.Tenants().CreateAsync(platform.TenantId, "Nova", homes.Select(h => new ShardPlan(h, null)).ToList(), default);
        return platform;
    }

    /// <summary>A tenant with one shard and NAS bng-1, its secret rotated from the old to the new one at the clock's time.</summary>
    private static async Task<Platform> RotatedAsync(TimeProvider time)
    {
        var platform = await TenantWithShardsAsync("a");
        await platform.Nas(time).AddAsync(Spec(platform), default);
        await platform.Nas(time).RotateSecretAsync(platform.TenantId, "bng-1", NewSecret, Overlap, force: false, default);
        return platform;
    }

    /// <summary>bng-1's current and previous secret in the inventory of the shard homed in a.</summary>
    private static async Task<(string? Current, string? Previous)> SecretsAsync(Platform platform) =>
        (await SecretAsync(platform, "a", "secret_enc"), await SecretAsync(platform, "a", "previous_secret_enc"));

    /// <summary>A sealed secret column of bng-1 in a shard's inventory, opened; null when the column is null.</summary>
    private static async Task<string?> SecretAsync(Platform platform, string home, string column)
    {
        var sealedSecret = await Sql.ScalarAsync<byte[]>(platform.Shard(home), $"SELECT {column} FROM nas_devices WHERE id = 'bng-1'");
        if (sealedSecret is null)
        {
            return null;
        }

        Assert.True(platform.Secrets.TryOpenString(sealedSecret, SecretContext.NasSecret("bng-1"), out var secret), $"{column} does not open");
        return secret;
    }
}

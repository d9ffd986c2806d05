using Geo.Directory.Operators;
using Geo.Testing;
using Npgsql;

namespace Geo.Directory.IntegrationTests;

public sealed class OperatorStoreTests
{
    private static readonly byte[] AliceHash = [.. Enumerable.Repeat((byte)0xa1, 32)];
    private static readonly byte[] BobHash = [.. Enumerable.Repeat((byte)0xb0, 32)];

    [Fact]
    public async Task AddKeyAsync_NameOrKeyTaken_RefusedAndRevokedNamesStayTaken()
    {
        await using var store = new OperatorStore(await DirectoryDatabase.CreateAsync());

        Assert.True(await store.AddKeyAsync("alice", AliceHash, default));
        Assert.False(await store.AddKeyAsync("alice", BobHash, default));
        Assert.False(await store.AddKeyAsync("bob", AliceHash, default));
        Assert.True(await store.RevokeKeyAsync("alice", default));
        Assert.False(await store.RevokeKeyAsync("alice", default));
        Assert.False(await store.AddKeyAsync("alice", BobHash, default));

        var key = Assert.Single(await store.ListKeysAsync(default));
        Assert.Equal("alice", key.Name);
        Assert.Equal(AliceHash, key.Sha256);
        Assert.NotNull(key.RevokedAt);
    }

    [Fact]
    public async Task AddKeyAsync_ReservedName_RefusedBeforeTheDatabase()
    {
        await using var store = new OperatorStore(await DirectoryDatabase.CreateAsync());

        await Assert.ThrowsAsync<ArgumentException>(() => store.AddKeyAsync(OperatorKeys.Bootstrap, AliceHash, default));
    }

    [Fact]
    public async Task ReadAsync_TenantSinceLimit_NewestFirst()
    {
        var directory = await DirectoryDatabase.CreateAsync();
        await using var store = new OperatorStore(directory);
        await store.AppendAsync(new AuditRecord("alice", "tenant.create", "acme", "127.0.0.1", AuditResults.Ok, null, AuditRecord.DetailOf(new { homes = new[] { "a" } })), default);
        await store.AppendAsync(new AuditRecord("alice", "nas.add", "zenith", "127.0.0.1", AuditResults.Failed, "no such tenant", null), default);
        await store.AppendAsync(new AuditRecord(OperatorKeys.Unknown, "tenant.key.rotate", "acme", "10.0.0.9", AuditResults.Refused, new string('x', 400), null), default);
        await using (var connection = new NpgsqlConnection(directory))
        {
            // The first entry an hour old: --since leaves it out.
            await connection.OpenAsync();
            await using var age = new NpgsqlCommand("UPDATE audit_log SET at = at - interval '1 hour' WHERE action = 'tenant.create'", connection);
            await age.ExecuteNonQueryAsync();
        }

        var acme = await store.ReadAsync(new AuditQuery("acme", null, 10), default);
        var recent = await store.ReadAsync(new AuditQuery(null, DateTimeOffset.UtcNow.AddMinutes(-30), 10), default);
        var newest = await store.ReadAsync(new AuditQuery(null, null, 1), default);

        Assert.Equal(["tenant.key.rotate", "tenant.create"], acme.Select(e => e.Record.Action));
        Assert.Equal("a", acme[1].Record.Detail!.Value.GetProperty("homes")[0].GetString());
        Assert.Equal(["tenant.key.rotate", "nas.add"], recent.Select(e => e.Record.Action));
        Assert.Equal(AuditRecord.MaxReasonLength, Assert.Single(newest).Record.Reason!.Length);
        Assert.Equal([0L], await Sql.QueryAsync<long>(directory, "SELECT count(*) FROM audit_log WHERE detail IS NULL"));
    }
}

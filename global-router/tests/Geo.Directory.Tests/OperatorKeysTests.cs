using Geo.Directory.Operators;

namespace Geo.Directory.Tests;

public sealed class OperatorKeysTests
{
    private static readonly DateTimeOffset Created = new(2026, 12, 1, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Identify_NamedKey_ItsName()
    {
        var key = OperatorKeys.New();
        var keys = new[] { Stored("alice", OperatorKeys.New()), Stored("bob", key) };

        Assert.Equal(new OperatorIdentity("bob", false), OperatorKeys.Identify(key, keys, OperatorKeys.Hash(OperatorKeys.New())));
    }

    [Fact]
    public void Identify_BootstrapKey_NamedBootstrap()
    {
        var bootstrap = OperatorKeys.New();

        var identity = OperatorKeys.Identify(bootstrap, [Stored("alice", OperatorKeys.New())], OperatorKeys.Hash(bootstrap));

        Assert.Equal(OperatorKeys.Bootstrap, identity.Name);
        Assert.True(identity.Authorized);
    }

    [Fact]
    public void Identify_RevokedKey_NamedButNotAuthorized()
    {
        var key = OperatorKeys.New();

        var identity = OperatorKeys.Identify(key, [Stored("carol", key) with { RevokedAt = Created.AddDays(1) }], null);

        Assert.Equal(new OperatorIdentity("carol", true), identity);
        Assert.False(identity.Authorized);
    }

    [Theory]
    [InlineData("")]
    [InlineData("geo_op_guess")]
    public void Identify_UnknownKey_NoName(string key)
    {
        var identity = OperatorKeys.Identify(key, [Stored("alice", OperatorKeys.New())], null);

        Assert.Null(identity.Name);
        Assert.False(identity.Authorized);
    }

    [Theory]
    [InlineData("alice", true)]
    [InlineData("ci.deploy-2", true)]
    [InlineData("bootstrap", false)]
    [InlineData("unknown", false)]
    [InlineData("Alice", false)]
    [InlineData("2fast", false)]
    [InlineData("", false)]
    public void IsValidName_Names_AsTheSchemaChecks(string name, bool valid) => Assert.Equal(valid, OperatorKeys.IsValidName(name));

    [Theory]
    [InlineData("90s", 90)]
    [InlineData("30m", 1800)]
    [InlineData("1h", 3600)]
    [InlineData("7d", 604800)]
    [InlineData("01:00:00", 3600)]
    public void TryParseSpan_OperatorSpans_Parsed(string text, int seconds)
    {
        Assert.True(AuditQuery.TryParseSpan(text, out var span));
        Assert.Equal(TimeSpan.FromSeconds(seconds), span);
    }

    [Theory]
    [InlineData("1w")]
    [InlineData("-01:00:00")]
    [InlineData("soon")]
    public void TryParseSpan_Nonsense_Refused(string text) => Assert.False(AuditQuery.TryParseSpan(text, out _));

    private static OperatorKey Stored(string name, string key) => new(name, OperatorKeys.Hash(key), Created, null);
}

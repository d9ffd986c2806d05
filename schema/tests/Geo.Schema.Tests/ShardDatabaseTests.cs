namespace Geo.Schema.Tests;

public sealed class ShardDatabaseTests
{
    [Theory]
    [InlineData("acme", "a", "geo_acme_a")]
    [InlineData("zenith_mobile", "eu-west", "geo_zenith_mobile_eu-west")]
    public void Name_ValidIds_TenantThenRegion(string tenant, string region, string expected)
    {
        Assert.Equal(expected, ShardDatabase.Name(tenant, region));
    }

    [Theory]
    [InlineData("Acme", "a")]
    [InlineData("acme-isp", "a")]
    [InlineData("acme\"; DROP DATABASE x; --", "a")]
    [InlineData("acme", "A")]
    [InlineData("acme", "eu_west")]
    [InlineData("", "a")]
    [InlineData("acme", "")]
    public void Name_InvalidIds_Refused(string tenant, string region)
    {
        Assert.Throws<ArgumentException>(() => ShardDatabase.Name(tenant, region));
    }

    [Fact]
    public void Quote_EmbeddedQuote_Doubled()
    {
        Assert.Equal("\"geo_a\"\"b\"", ShardDatabase.Quote("geo_a\"b"));
    }
}

using Geo.Schema.Migrations;

namespace Geo.Schema.Tests;

public sealed class MigrationSetTests
{
    [Theory]
    [InlineData("1_init.sql")]
    [InlineData("0001-init.sql")]
    [InlineData("0001_Init.sql")]
    [InlineData("0001_init.txt")]
    public void Create_BadFileName_RefusedNamingTheFile(string fileName)
    {
        var error = Assert.Throws<MigrationException>(() => Migration.Create(fileName, "SELECT 1"));
        Assert.Contains(fileName, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Create_DuplicateVersion_RefusedNamingBothFiles()
    {
        var error = Assert.Throws<MigrationException>(() => MigrationSet.Create("test",
            [Migration.Create("0001_a.sql", "SELECT 1"), Migration.Create("0001_b.sql", "SELECT 2")]));
        Assert.Contains("0001_a.sql", error.Message, StringComparison.Ordinal);
        Assert.Contains("0001_b.sql", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Create_OutOfOrder_SortedByVersion()
    {
        var set = MigrationSet.Create("test", [Migration.Create("0002_b.sql", "SELECT 2"), Migration.Create("0001_a.sql", "SELECT 1")]);
        Assert.Equal([1, 2], set.Migrations.Select(m => m.Version));
        Assert.Equal(2, set.LatestVersion);
    }

    [Fact]
    public void Checksum_CrlfCheckout_SameAsLf()
    {
        var lf = Migration.Create("0001_a.sql", "CREATE TABLE t (id int);\nSELECT 1;\n");
        var crlf = Migration.Create("0001_a.sql", "CREATE TABLE t (id int);\r\nSELECT 1;\r\n");
        Assert.Equal(lf.Checksum, crlf.Checksum);
    }

    [Fact]
    public void Checksum_ChangedText_Differs()
    {
        var before = Migration.Create("0001_a.sql", "CREATE TABLE t (id int);");
        var after = Migration.Create("0001_a.sql", "CREATE TABLE t (id bigint);");
        Assert.NotEqual(before.Checksum, after.Checksum);
    }

    [Theory]
    [InlineData("directory")]
    [InlineData("tenant")]
    public void Embedded_Sets_StartAtVersionOneWithoutGaps(string name)
    {
        var set = MigrationSet.Named(name);
        Assert.NotEmpty(set.Migrations);
        Assert.Equal(Enumerable.Range(1, set.Migrations.Count), set.Migrations.Select(m => m.Version));
    }

    [Fact]
    public void Named_Unknown_RefusedListingKnownSets()
    {
        var error = Assert.Throws<MigrationException>(() => MigrationSet.Named("billing"));
        Assert.Contains("directory, tenant", error.Message, StringComparison.Ordinal);
    }
}

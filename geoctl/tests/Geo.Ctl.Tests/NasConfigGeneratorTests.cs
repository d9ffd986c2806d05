using System.CommandLine;
using Geo.Ctl.NasConfig;
using Geo.Provisioning.NasConfig;

namespace Geo.Ctl.Tests;

public sealed class NasConfigGeneratorTests
{
    private static readonly NasClient Nas = new(
        "acme", "acme-bng-a", "127.0.10.1",
        new RadiusEndpoint("a", "10.1.0.10", 1812, 1813),
        new RadiusEndpoint("eu-west", "10.2.0.10", 11812, 11813),
        "s3cret");

    [Theory]
    [InlineData("mikrotik")]
    [InlineData("cisco")]
    [InlineData("juniper")]
    [InlineData("freeradius")]
    public void Generate_AnyFormat_PrimaryBeforeBackupWithBothPortPairs(string format)
    {
        Assert.True(NasConfigGenerator.TryParseFormat(format, out var dialect));
        var text = NasConfigGenerator.Generate(Nas, dialect);

        var primary = text.IndexOf("10.1.0.10", StringComparison.Ordinal);
        var backup = text.IndexOf("10.2.0.10", StringComparison.Ordinal);
        Assert.InRange(primary, 0, backup - 1);
        Assert.Contains("1812", text, StringComparison.Ordinal);
        Assert.Contains("11813", text, StringComparison.Ordinal);
        Assert.Contains("s3cret", text, StringComparison.Ordinal);
    }

    [Fact]
    public void FailoverTiming_WorstCase_InsideTheFiveSecondBudget()
    {
        Assert.True(FailoverTiming.WorstCaseSeconds < FailoverTiming.BudgetSeconds);
        Assert.Equal(4, FailoverTiming.WorstCaseSeconds);
    }

    [Fact]
    public void Generate_Cisco_TimeoutAndRetransmitGiveThreeSends()
    {
        var text = NasConfigGenerator.Generate(Nas, NasConfigFormat.Cisco);

        Assert.Contains(" timeout 1\n", text, StringComparison.Ordinal);
        Assert.Contains(" retransmit 2\n", text, StringComparison.Ordinal);
        Assert.Contains("radius-server dead-criteria time 3 tries 3", text, StringComparison.Ordinal);
        Assert.Contains("aaa group server radius GEO-ACME\n server name GEO-A\n server name GEO-EU-WEST\n", text, StringComparison.Ordinal);
        Assert.Contains("aaa accounting network default start-stop group GEO-ACME", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Generate_Juniper_RetryCountsEverySend()
    {
        var text = NasConfigGenerator.Generate(Nas, NasConfigFormat.Juniper);

        Assert.Contains("set access radius-server 10.1.0.10 port 1812 accounting-port 1813 secret \"s3cret\" timeout 1 retry 3 source-address 127.0.10.1", text, StringComparison.Ordinal);
        Assert.Contains("radius authentication-server [ 10.1.0.10 10.2.0.10 ]", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Generate_Mikrotik_OneSecondPerServerAndCoaPort()
    {
        var text = NasConfigGenerator.Generate(Nas, NasConfigFormat.Mikrotik);

        Assert.Equal(2, text.Split('\n').Count(l => l.StartsWith("/radius add ", StringComparison.Ordinal)));
        Assert.Contains("timeout=1000ms", text, StringComparison.Ordinal);
        Assert.Contains("/radius incoming set accept=yes port=3799", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Generate_Freeradius_FailOverPoolsForAuthAndAcct()
    {
        var text = NasConfigGenerator.Generate(Nas, NasConfigFormat.Freeradius);

        Assert.Contains("home_server_pool geo-acme_auth {\n    type = fail-over\n    home_server = geo_a_auth\n    home_server = geo_eu_west_auth\n}", text, StringComparison.Ordinal);
        Assert.Contains("response_window = 1", text, StringComparison.Ordinal);
        Assert.Contains("port = 11813", text, StringComparison.Ordinal);
        Assert.Equal(text.Count(c => c == '{'), text.Count(c => c == '}'));
    }

    [Fact]
    public void Generate_NoBackupRegion_OnlyThePrimary()
    {
        var text = NasConfigGenerator.Generate(Nas with { Backup = null }, NasConfigFormat.Juniper);

        Assert.DoesNotContain("10.2.0.10", text, StringComparison.Ordinal);
        Assert.Contains("authentication-server [ 10.1.0.10 ]", text, StringComparison.Ordinal);
        Assert.Contains("home region a, no backup region", text, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("mikrotik", "secret=\"a\\\"b\\\\c\\$d\"")]
    [InlineData("juniper", "secret \"a\\\"b\\\\c$d\"")]
    [InlineData("freeradius", "secret = \"a\\\"b\\\\c$d\"")]
    public void Generate_SecretWithQuotes_Escaped(string format, string expected)
    {
        Assert.True(NasConfigGenerator.TryParseFormat(format, out var dialect));
        var text = NasConfigGenerator.Generate(Nas with { Secret = "a\"b\\c$d" }, dialect);

        Assert.Contains(expected, text, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("two words")]
    [InlineData("what?")]
    public void Generate_CiscoSecretTheCliWouldMangle_Refused(string secret)
    {
        Assert.Throws<ArgumentException>(() => NasConfigGenerator.Generate(Nas with { Secret = secret }, NasConfigFormat.Cisco));
    }

    [Fact]
    public void ToString_NasClient_NeverShowsTheSecret()
    {
        Assert.DoesNotContain("s3cret", Nas.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("nas-config bng --format vyos")]
    [InlineData("nas-config bng")]
    [InlineData("nas-config --format cisco")]
    public void Parse_BadArguments_Errors(string line)
    {
        var stateDir = new Option<string>("--state-dir") { Recursive = true, DefaultValueFactory = _ => ".geo" };
        var root = new RootCommand { stateDir, NasConfigCommand.Create(stateDir, TextWriter.Null, TextWriter.Null) };

        Assert.NotEmpty(root.Parse(line).Errors);
    }
}

using Geo.Replication.Hosting;

namespace Geo.Replication.Tests;

public sealed class ReplicatorOptionsValidatorTests
{
    [Fact]
    public void Validate_DirectoryWithOwnRegionServer_Succeeds()
    {
        var options = WithDirectory();

        var result = new ReplicatorOptionsValidator().Validate(null, options);

        Assert.True(result.Succeeded, result.FailureMessage);
    }

    [Fact]
    public void Validate_DirectoryWithoutOwnRegionServer_Fails()
    {
        var options = WithDirectory();
        options.Directory.Servers.Remove("b");

        var result = new ReplicatorOptionsValidator().Validate(null, options);

        Assert.True(result.Failed);
        Assert.Contains("Replication:Directory:Servers:b is required", result.FailureMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_BadServerEntries_FailWithoutShowingConnectionStrings()
    {
        var options = WithDirectory();
        options.Directory.Servers["Not A Region"] = "Host=x;Password=hunter2";
        options.Directory.Servers["c"] = "Host=x;Password=hunter2;NoSuchKeyword=1";
        options.Directory.RefreshInterval = TimeSpan.Zero;

        var result = new ReplicatorOptionsValidator().Validate(null, options);

        Assert.True(result.Failed);
        Assert.Contains("'Not A Region' is not a region id", result.FailureMessage, StringComparison.Ordinal);
        Assert.Contains("Replication:Directory:Servers:c is not a valid Npgsql connection string", result.FailureMessage, StringComparison.Ordinal);
        Assert.Contains("RefreshInterval must be positive", result.FailureMessage, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2", result.FailureMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_ServersWithoutDirectory_Fails()
    {
        var options = new ReplicatorOptions { Region = "b" };
        options.Directory.Servers["b"] = "Host=pg-b";

        var result = new ReplicatorOptionsValidator().Validate(null, options);

        Assert.True(result.Failed);
        Assert.Contains("Replication:Directory:ConnectionString is not", result.FailureMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_NoDirectoryNoShards_Succeeds()
    {
        var result = new ReplicatorOptionsValidator().Validate(null, new ReplicatorOptions { Region = "b" });

        Assert.True(result.Succeeded, result.FailureMessage);
        Assert.Equal(TimeSpan.FromSeconds(10), new ReplicatorOptions().Directory.RefreshInterval);
    }

    private static ReplicatorOptions WithDirectory()
    {
        var options = new ReplicatorOptions { Region = "b" };
        options.Directory.ConnectionString = "Host=dir;Username=geo;Password=secret;Database=geo_directory";
        options.Directory.Servers["a"] = "Host=pg-a;Username=geo;Password=secret";
        options.Directory.Servers["b"] = "Host=pg-b;Username=geo;Password=secret";
        return options;
    }
}

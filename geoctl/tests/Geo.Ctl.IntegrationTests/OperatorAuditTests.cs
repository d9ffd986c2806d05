using Geo.Ctl.LocalStack;
using Geo.Engines.Postgres;
using Geo.Testing;

namespace Geo.Ctl.IntegrationTests;

/// <summary>
/// geoctl's own admin actions (it changes the databases directly, not through the router) leave audit entries naming
/// the operator key it acts with; named keys are added, listed and revoked; <c>geoctl audit</c> shows the log.
/// </summary>
public sealed class OperatorAuditTests : GeoCtlRun
{
    private const string NasSecret = "nas-secret-never-logged-42";

    public OperatorAuditTests()
        : base("audit")
    {
    }

    [Fact]
    public async Task AdminCommands_AuditedUnderTheKeyUsed_RevokedKeyRefused_NoSecretLogged()
    {
        await Succeeds("up", "--subscribers", "10");
        var keyFile = Path.Combine(Path.GetDirectoryName(StateDir)!, "ops1.key");

        await Succeeds("nas", "add", "--tenant", "acme", "--address", "127.0.10.77", "--secret", NasSecret, "--primary", "a", "--backup", "b", "--id", "bng-77");
        await Succeeds("operator-key", "add", "ops1", "--output", keyFile);
        await Succeeds("nas", "remove", "--tenant", "acme", "--id", "bng-77", "--operator-key-file", keyFile);
        await Succeeds("operator-key", "revoke", "ops1");
        var refused = await GeoCtl("nas", "remove", "--tenant", "acme", "--id", "bng-77", "--operator-key-file", keyFile);
        Output.GetStringBuilder().Clear();
        await Succeeds("operator-key", "list");
        var list = Output.ToString();
        Output.GetStringBuilder().Clear();
        await Succeeds("audit", "--since", "1h");
        var audit = Output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);

        Assert.Equal(1, refused);
        Assert.Contains("operator key revoked", Error.ToString(), StringComparison.Ordinal);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(keyFile));
        var key = (await File.ReadAllTextAsync(keyFile)).Trim();
        Assert.Contains("ops1", list, StringComparison.Ordinal);
        Assert.DoesNotContain(key, list, StringComparison.Ordinal);
        // Newest first, one aligned row each: the refused removal, the revocation, the removal as ops1, the key, the NAS.
        Assert.Equal(6, audit.Length);
        Assert.StartsWith("at ", audit[0], StringComparison.Ordinal);
        var actionColumn = audit[0].IndexOf("action", StringComparison.Ordinal);
        Assert.All(audit, line => Assert.Equal(' ', line[actionColumn - 1]));
        Assert.Equal(["nas.remove", "operator_key.revoke", "nas.remove", "operator_key.add", "nas.add"], audit.Skip(1).Select(l => l[actionColumn..].Split(' ')[0]));
        Assert.Contains("ops1 ", audit[1], StringComparison.Ordinal);
        Assert.Contains("refused: operator key revoked", audit[1], StringComparison.Ordinal);
        Assert.Contains("bootstrap ", audit[2], StringComparison.Ordinal);
        Assert.Contains("ops1 ", audit[3], StringComparison.Ordinal);
        Assert.Contains("127.0.10.77", audit[5], StringComparison.Ordinal);
        Assert.Contains("geoctl:", audit[5], StringComparison.Ordinal);

        var directory = PostgresCluster.Open(new StackLayout(StateDir).DirectoryPostgres)!.ConnectionString("geo_directory");
        var rows = await Sql.QueryAsync<string>(directory, "SELECT a::text FROM audit_log a");
        var operatorKey = (await File.ReadAllTextAsync(new StackLayout(StateDir).OperatorKeyFile)).Trim();
        Assert.All(rows, row => Assert.DoesNotContain(NasSecret, row, StringComparison.Ordinal));
        Assert.All(rows, row => Assert.DoesNotContain(key, row, StringComparison.Ordinal));
        Assert.All(rows, row => Assert.DoesNotContain(operatorKey, row, StringComparison.Ordinal));
    }
}

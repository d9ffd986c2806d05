using System.Globalization;
using System.CommandLine;
using Geo.Ctl.LocalStack;
using Geo.Ctl.Operators;
using Geo.Directory;
using Geo.Directory.Operators;
using Geo.Directory.Regions;
using Geo.Directory.Stores.Postgres;
using Npgsql;

namespace Geo.Ctl.Regions;

/// <summary>
/// <c>geoctl region set|list</c>: the regions of the directory as a deployment registers them once its regions exist
/// (docs/deploy.md): each one's tenant API URL and the RADIUS host NAS devices and the other regions send to — what
/// <c>geoctl nas-config</c> writes into each NAS as its primary and backup.
/// </summary>
internal static class RegionCommand
{
    public static Command Create(Option<string> stateDir, TextWriter output, TextWriter error)
    {
        var directory = new Option<string?>("--directory") { Description = "Connection string of the directory database (default: the local stack's)", Recursive = true };
        var id = new Argument<string>("id") { Description = "The region's id: a short slug such as a, b or eu-west (lowercase letters, digits, '-')" };
        var apiUrl = new Option<string>("--api-url") { Description = "Base URL of the region's tenant API (its nodes' load balancer)", Required = true };
        var radiusHost = new Option<string>("--radius-host") { Description = "Address (or host name) NAS devices and other regions send RADIUS to: the region's fixed RADIUS address", Required = true };
        var authPort = new Option<int>("--auth-port") { Description = "UDP port of authentication", DefaultValueFactory = _ => 1812 };
        var acctPort = new Option<int>("--acct-port") { Description = "UDP port of accounting", DefaultValueFactory = _ => 1813 };
        var name = new Option<string?>("--name") { Description = "Name for people (default: the id)" };

        var set = new Command("set", "Register a region in the directory, or change its endpoints") { id, apiUrl, radiusHost, authPort, acctPort, name };
        set.SetAction(async (ParseResult result, CancellationToken cancellationToken) =>
        {
            var regionId = result.GetValue(id)!;
            var problems = Validate(regionId, result.GetValue(apiUrl)!, result.GetValue(radiusHost)!, result.GetValue(authPort), result.GetValue(acctPort), out var url);
            if (problems.Count > 0)
            {
                foreach (var problem in problems)
                {
                    await error.WriteLineAsync($"geoctl: {problem}");
                }

                return 2;
            }

            var region = new Region(regionId, result.GetValue(name) ?? regionId, url!, result.GetValue(radiusHost)!, result.GetValue(authPort), result.GetValue(acctPort));
            return await WithStore(result, stateDir, directory, error, async (store, connectionString) =>
            {
                await store.UpsertRegionAsync(region, cancellationToken);
                // Audited under the database role that did it: no operator key is involved in a direct directory write.
                var role = new NpgsqlConnectionStringBuilder(connectionString).Username ?? Environment.UserName;
                await using var operators = new OperatorStore(connectionString);
                await operators.AppendAsync(new AuditRecord($"db:{role}", "region.set", null, AuditedAction.Source, AuditResults.Ok, null,
                    AuditRecord.DetailOf(new { region = region.Id, api_url = region.ApiUrl.ToString(), radius_host = region.RadiusHost, auth_port = region.RadiusAuthPort, acct_port = region.RadiusAcctPort })),
                    CancellationToken.None);
                await output.WriteLineAsync($"region {region.Id}: api {region.ApiUrl}, radius {region.RadiusHost} (auth {region.RadiusAuthPort}, acct {region.RadiusAcctPort})");
                return 0;
            });
        });

        var list = new Command("list", "List the directory's regions and their endpoints");
        list.SetAction(async (ParseResult result, CancellationToken cancellationToken) =>
            await WithStore(result, stateDir, directory, error, async (store, _) =>
            {
                var data = await store.LoadAsync(cancellationToken);
                string[][] rows =
                [
                    ["REGION", "NAME", "API", "RADIUS", "AUTH", "ACCT"],
                    .. data.Regions.OrderBy(r => r.Id, StringComparer.Ordinal).Select(r => new[]
                    {
                        r.Id, r.DisplayName, r.ApiUrl.ToString(), r.RadiusHost, r.RadiusAuthPort.ToString(CultureInfo.InvariantCulture), r.RadiusAcctPort.ToString(CultureInfo.InvariantCulture),
                    }),
                ];
                foreach (var line in Columns.Align(rows))
                {
                    await output.WriteLineAsync(line);
                }

                return 0;
            }));

        return new Command("region", "Register the regions of a deployment in the directory and list them") { directory, set, list };
    }

    /// <summary>Every problem of a region's settings, so that one run names them all.</summary>
    internal static List<string> Validate(string id, string apiUrl, string radiusHost, int authPort, int acctPort, out Uri? url)
    {
        var problems = new List<string>();
        if (id.Length is 0 or > 32 || !char.IsAsciiLetterLower(id[0]) || !id.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '-'))
        {
            problems.Add($"region id '{id}': lowercase letters, digits and '-', starting with a letter, at most 32");
        }

        if (!Uri.TryCreate(apiUrl, UriKind.Absolute, out url) || url.Scheme is not ("http" or "https"))
        {
            problems.Add($"--api-url '{apiUrl}' is not an http(s) URL");
            url = null;
        }

        if (Uri.CheckHostName(radiusHost) == UriHostNameType.Unknown)
        {
            problems.Add($"--radius-host '{radiusHost}' is not an address or host name");
        }

        foreach (var (option, port) in new[] { ("--auth-port", authPort), ("--acct-port", acctPort) })
        {
            if (port is < 1 or > 65535)
            {
                problems.Add($"{option} {port} is not a port (1-65535)");
            }
        }

        if (authPort == acctPort)
        {
            problems.Add("--auth-port and --acct-port must differ");
        }

        return problems;
    }

    private static async Task<int> WithStore(ParseResult result, Option<string> stateDir, Option<string?> directory, TextWriter error, Func<IDirectoryStore, string, Task<int>> action)
    {
        var connectionString = result.GetValue(directory) ?? new StackLayout(result.GetValue(stateDir)!).DirectoryConnectionString();
        if (connectionString is null)
        {
            await error.WriteLineAsync("geoctl: no directory: pass --directory, or start the local stack (geoctl up)");
            return 2;
        }

        try
        {
            await using var store = new PostgresDirectoryStore(connectionString);
            return await action(store, connectionString);
        }
        catch (Exception ex) when (ex is NpgsqlException or DirectoryStoreException or ArgumentException)
        {
            await error.WriteLineAsync($"geoctl: {ex.Message}");
            return 1;
        }
    }
}

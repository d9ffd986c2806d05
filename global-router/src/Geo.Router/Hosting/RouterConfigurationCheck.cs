using Geo.Hosting;
using Microsoft.Extensions.Options;

namespace Geo.Router.Hosting;

/// <summary>What <c>geo-router --check-config</c> checks beyond <see cref="RouterOptions"/>' validation: the connection strings it opens.</summary>
internal sealed class RouterConfigurationCheck(IOptions<RouterOptions> options) : IConfigurationCheck
{
    public IEnumerable<string> Check()
    {
        var router = options.Value;
        var problems = ConfigurationProblems.ConnectionString("Router:DirectoryConnectionString", router.DirectoryConnectionString,
            required: router.DirectoryStore == "postgres" || router.Admin.Enabled).ToList();
        foreach (var (region, server) in router.Admin.Servers)
        {
            problems.AddRange(ConfigurationProblems.ConnectionString($"Router:Admin:Servers:{region}", server));
        }

        return problems;
    }
}

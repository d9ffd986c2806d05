using Geo.Hosting;
using Geo.Schema.Secrets;
using Microsoft.Extensions.Options;

namespace Geo.RegionNode.Operations;

/// <summary>What <c>geo-region --check-config</c> checks beyond <see cref="RegionNodeOptions"/>' validation: the files and connection strings it uses at start.</summary>
internal sealed class RegionNodeConfigurationCheck(IOptions<RegionNodeOptions> options) : IConfigurationCheck
{
    public IEnumerable<string> Check()
    {
        var node = options.Value;
        const string Section = RegionNodeOptions.Section;
        var problems = new List<string>();
        problems.AddRange(ConfigurationProblems.ConnectionString($"{Section}:DirectoryConnectionString", node.DirectoryConnectionString));
        problems.AddRange(ConfigurationProblems.ConnectionString($"{Section}:PostgresConnectionString", node.PostgresConnectionString));
        problems.AddRange(ConfigurationProblems.Endpoint($"{Section}:RedisEndpoint", node.RedisEndpoint, required: false));
        problems.AddRange(ConfigurationProblems.ReadableFile($"{Section}:RedisPasswordFile", node.RedisPasswordFile, required: false));
        problems.AddRange(ConfigurationProblems.ReadableFile($"{Section}:InterRegionSecretFile", node.InterRegionSecretFile, required: false));
        var keyring = ConfigurationProblems.ReadableFile($"{Section}:KeyringFile", node.KeyringFile).ToList();
        if (keyring.Count == 0)
        {
            try
            {
                SecretKeyring.Load(node.KeyringFile);
            }
            catch (FormatException e)
            {
                // The message never holds key material (SecretKeyring.Parse).
                keyring.Add($"{Section}:KeyringFile: {node.KeyringFile}: {e.Message}");
            }
        }

        problems.AddRange(keyring);
        return problems;
    }
}

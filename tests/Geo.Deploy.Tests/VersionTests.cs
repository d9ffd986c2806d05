using System.Text.Json.Nodes;
using Geo.Deploy.Tests.Terraform;

namespace Geo.Deploy.Tests;

/// <summary>Every module pins Terraform and each provider it uses, so that init picks the versions it was written for.</summary>
[Collection(TerraformDefinition.Name)]
public sealed class VersionTests(TerraformFixture terraform)
{
    [Fact]
    public void EveryModule_DeclaresRequiredVersion()
    {
        var problems = terraform.Tree.Modules
            .Where(m => !m.TerraformBlocks.Any(b => b.Body["required_version"] is JsonValue v && v.ToString().Length > 0))
            .Select(m => $"{m.Folder}: no terraform {{ required_version = \"...\" }} in {string.Join(", ", m.Files)}");
        Problems.AssertNone(problems, "required_version");
    }

    [Fact]
    public void EveryUsedProvider_IsInRequiredProvidersWithSourceAndVersion()
    {
        var problems = new List<string>();
        foreach (var module in terraform.Tree.Modules)
        {
            var required = module.TerraformBlocks
                .SelectMany(b => b.Body["required_providers"] as JsonArray ?? [])
                .OfType<JsonObject>()
                .SelectMany(p => p)
                .GroupBy(p => p.Key, StringComparer.Ordinal)
                .ToDictionary(g => g.Key, g => g.First().Value as JsonObject, StringComparer.Ordinal);

            // terraform_data and terraform_remote_state are built in: no provider to require.
            var used = module.Resources.Concat(module.DataSources).Concat(module.Ephemerals)
                .Where(b => b.Provider != "terraform")
                .Select(b => (b.Provider, Where: $"{b.File}: {b.Type}.{b.Name}"))
                .Concat(module.ProviderConfigurations.Select(p => (Provider: p.Name, Where: $"{p.File}: provider \"{p.Name}\"")))
                .GroupBy(u => u.Provider, StringComparer.Ordinal);
            foreach (var provider in used.OrderBy(g => g.Key, StringComparer.Ordinal))
            {
                var where = provider.First().Where;
                if (!required.TryGetValue(provider.Key, out var pin))
                {
                    problems.Add($"{where}: provider {provider.Key} is not in {module.Folder}'s required_providers");
                    continue;
                }

                foreach (var attribute in new[] { "source", "version" })
                {
                    if (pin?[attribute] is not JsonValue value || value.ToString().Length == 0)
                    {
                        problems.Add($"{module.Folder}: required_providers.{provider.Key} has no {attribute} (used by {where})");
                    }
                }
            }
        }

        Problems.AssertNone(problems, "required_providers");
    }
}

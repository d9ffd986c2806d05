using Geo.Deploy.Tests.Terraform;

namespace Geo.Deploy.Tests;

/// <summary>What <c>terraform validate</c> would refuse first: references to things a module does not declare.</summary>
[Collection(TerraformDefinition.Name)]
public sealed class ReferenceTests(TerraformFixture terraform)
{
    /// <summary>Arguments of a module block that are Terraform's, not the called module's variables.</summary>
    private static readonly HashSet<string> MetaArguments = ["source", "version", "providers", "count", "for_each", "depends_on"];

    [Fact]
    public void VariableReferences_AreDeclaredInTheirModule()
    {
        var problems =
            from module in terraform.Tree.Modules
            from s in module.Strings()
            from name in HclText.VariableReferences(s.Value)
            where !module.Variables.ContainsKey(name)
            select $"{s.File}: var.{name} is not declared in {Display(module)}";
        Problems.AssertNone(problems, "undeclared variables");
    }

    [Fact]
    public void LocalReferences_AreDeclaredInTheirModule()
    {
        var problems =
            from module in terraform.Tree.Modules
            from s in module.Strings()
            from name in HclText.LocalReferences(s.Value)
            where !module.Locals.ContainsKey(name)
            select $"{s.File}: local.{name} is not declared in a locals block of {Display(module)}";
        Problems.AssertNone(problems, "undeclared locals");
    }

    [Fact]
    public void ModuleReferences_NameDeclaredModulesAndTheirOutputs()
    {
        var problems = new List<string>();
        foreach (var module in terraform.Tree.Modules)
        {
            foreach (var s in module.Strings())
            {
                foreach (var (name, output) in HclText.ModuleReferences(s.Value))
                {
                    if (!module.ModuleCalls.TryGetValue(name, out var call))
                    {
                        problems.Add($"{s.File}: module.{name} is not a module block of {Display(module)}");
                        continue;
                    }

                    if (output is null)
                    {
                        continue;
                    }

                    var called = Called(module, call, out var problem);
                    if (problem is not null)
                    {
                        problems.Add($"{s.File}: module.{name}.{output}: {problem}");
                    }
                    else if (called is not null && !called.Outputs.ContainsKey(output))
                    {
                        problems.Add($"{s.File}: module.{name}.{output}: {called.Folder} declares no output \"{output}\"");
                    }
                }
            }
        }

        Problems.AssertNone(problems, "module references");
    }

    [Fact]
    public void ModuleCalls_PassExactlyTheCalledModulesVariables()
    {
        var problems = new List<string>();
        foreach (var module in terraform.Tree.Modules)
        {
            foreach (var call in module.ModuleCalls.Values)
            {
                if (Called(module, call, out var problem) is not { } called)
                {
                    if (problem is not null)
                    {
                        problems.Add($"{call.File}: module \"{call.Name}\": {problem}");
                    }

                    continue;
                }

                var inputs = call.Body.Select(p => p.Key).Where(k => !MetaArguments.Contains(k)).ToHashSet(StringComparer.Ordinal);
                problems.AddRange(inputs.Where(i => !called.Variables.ContainsKey(i)).Order(StringComparer.Ordinal)
                    .Select(i => $"{call.File}: module \"{call.Name}\" passes {i}, which {called.Folder} does not declare as a variable"));
                problems.AddRange(called.Variables.Values.Where(v => !v.Body.ContainsKey("default") && !inputs.Contains(v.Name))
                    .OrderBy(v => v.Name, StringComparer.Ordinal)
                    .Select(v => $"{call.File}: module \"{call.Name}\" does not pass {v.Name}, which {v.File} declares without a default"));
            }
        }

        Problems.AssertNone(problems, "module inputs");
    }

    /// <summary>
    /// The module a local source names; null with why for a folder without .tf files; null without a problem for a
    /// registry source (not downloaded here, so not checked).
    /// </summary>
    private TerraformModule? Called(TerraformModule module, Block call, out string? problem)
    {
        problem = null;
        var source = call.Body["source"]?.ToString();
        if (source is null)
        {
            problem = "has no source";
            return null;
        }

        if (module.LocalSource(call) is not { } folder)
        {
            return null;
        }

        var called = terraform.Tree.Module(folder);
        if (called is null)
        {
            problem = $"source {source} ({folder}) holds no .tf file";
        }

        return called;
    }

    private static string Display(TerraformModule module) => module.Folder.Length == 0 ? "terraform/" : module.Folder;
}

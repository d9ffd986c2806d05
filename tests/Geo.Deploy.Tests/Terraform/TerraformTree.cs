using System.Text.Json.Nodes;

namespace Geo.Deploy.Tests.Terraform;

/// <summary>terraform/ parsed by HashiCorp's HCL parser: its modules (every folder holding .tf files) and variable files.</summary>
internal sealed class TerraformTree
{
    private static readonly TimeSpan ParseTimeout = TimeSpan.FromMinutes(2);

    private TerraformTree(string root, IReadOnlyList<TerraformModule> modules, IReadOnlyDictionary<string, JsonObject> variableFiles)
    {
        Root = root;
        Modules = modules;
        VariableFiles = variableFiles;
    }

    public string Root { get; }

    public IReadOnlyList<TerraformModule> Modules { get; }

    /// <summary>*.tfvars and *.tfvars.example, by path relative to terraform/.</summary>
    public IReadOnlyDictionary<string, JsonObject> VariableFiles { get; }

    public TerraformModule? Module(string folder) => Modules.FirstOrDefault(m => m.Folder == folder);

    /// <summary>Every file under terraform/, relative to it with '/', in a stable order.</summary>
    public IEnumerable<string> AllFiles() =>
        Directory.EnumerateFiles(Root, "*", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(Root, f).Replace('\\', '/'))
            .Where(f => !f.Split('/').Any(part => part is ".terraform" or "node_modules"))
            .Order(StringComparer.Ordinal);

    /// <summary>Runs hcl/parse.mjs on <paramref name="root"/>; throws <see cref="InvalidOperationException"/> with the parser's file:line:col diagnostics.</summary>
    public static async Task<TerraformTree> LoadAsync(string root)
    {
        if (!Directory.Exists(root))
        {
            throw new InvalidOperationException($"{root} does not exist");
        }

        if (!Directory.Exists(Path.Combine(Repository.HclParser, "node_modules", "@cdktf", "hcl2json")))
        {
            throw new InvalidOperationException($"the HCL parser is not installed in {Repository.HclParser}: run eng/setup.sh (npm ci there)");
        }

        ChildProcessResult result;
        try
        {
            result = await ChildProcess.RunAsync("node", [Path.Combine(Repository.HclParser, "parse.mjs"), root], Repository.HclParser, ParseTimeout);
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException($"cannot run node (Node.js 20 or newer parses the Terraform files): {e.Message}");
        }

        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException(result.Error.TrimEnd());
        }

        var files = JsonNode.Parse(result.Output)?.AsObject() ?? throw new InvalidOperationException("the parser printed no JSON object");
        var modules = files
            .Where(f => f.Key.EndsWith(".tf", StringComparison.Ordinal))
            .GroupBy(f => Folder(f.Key), StringComparer.Ordinal)
            .OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => new TerraformModule(Path.GetFullPath(root), g.Key, g.Select(f => (f.Key, f.Value!.AsObject())).ToList()))
            .ToList();
        var variableFiles = files
            .Where(f => !f.Key.EndsWith(".tf", StringComparison.Ordinal))
            .ToDictionary(f => f.Key, f => f.Value!.AsObject(), StringComparer.Ordinal);
        return new TerraformTree(Path.GetFullPath(root), modules, variableFiles);
    }

    private static string Folder(string file) => file.Contains('/', StringComparison.Ordinal) ? file[..file.LastIndexOf('/')] : "";
}

using System.Text.Json.Nodes;

namespace Geo.Deploy.Tests.Terraform;

/// <summary>
/// One folder of .tf files as hcl2json parsed them: every block kind is an object of arrays (<c>variable.NAME[0]</c>,
/// <c>resource.TYPE.NAME[0]</c>) or, for <c>locals</c> and <c>terraform</c>, an array of bodies.
/// </summary>
internal sealed class TerraformModule
{
    private readonly IReadOnlyList<(string File, JsonObject Body)> _files;

    private readonly string _root;

    public TerraformModule(string root, string folder, IReadOnlyList<(string File, JsonObject Body)> files)
    {
        _root = root;
        Folder = folder;
        FullPath = Path.Combine(root, folder);
        _files = files;
        Variables = Named("variable").ToDictionary(b => b.Name, b => b, StringComparer.Ordinal);
        Outputs = Named("output").ToDictionary(b => b.Name, b => b, StringComparer.Ordinal);
        ModuleCalls = Named("module").ToDictionary(b => b.Name, b => b, StringComparer.Ordinal);
        Locals = Bodies("locals").SelectMany(b => b.Body.Select(p => (b.File, p.Key, p.Value)))
            .GroupBy(l => l.Key, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.First().Value, StringComparer.Ordinal);
        Resources = Typed("resource").ToList();
        DataSources = Typed("data").ToList();
        Ephemerals = Typed("ephemeral").ToList();
        ProviderConfigurations = Named("provider").ToList();
        TerraformBlocks = Bodies("terraform").ToList();
    }

    /// <summary>The folder relative to terraform/, with '/' ("modules/region", "examples/two-region").</summary>
    public string Folder { get; }

    public string FullPath { get; }

    public IEnumerable<string> Files => _files.Select(f => f.File);

    public IReadOnlyDictionary<string, Block> Variables { get; }

    public IReadOnlyDictionary<string, Block> Outputs { get; }

    public IReadOnlyDictionary<string, Block> ModuleCalls { get; }

    public IReadOnlyDictionary<string, JsonNode?> Locals { get; }

    public IReadOnlyList<Block> Resources { get; }

    public IReadOnlyList<Block> DataSources { get; }

    public IReadOnlyList<Block> Ephemerals { get; }

    public IReadOnlyList<Block> ProviderConfigurations { get; }

    public IReadOnlyList<Block> TerraformBlocks { get; }

    /// <summary>The folder a local module source ("./x", "../../modules/region") names, relative to terraform/; null for a registry source.</summary>
    public string? LocalSource(Block moduleCall)
    {
        if (moduleCall.Body["source"]?.GetValue<string>() is not { } source
            || !(source.StartsWith("./", StringComparison.Ordinal) || source.StartsWith("../", StringComparison.Ordinal)))
        {
            return null;
        }

        return Path.GetRelativePath(_root, Path.GetFullPath(Path.Combine(FullPath, source))).Replace('\\', '/');
    }

    /// <summary>Every string in every file of the folder, with the file and the JSON path it sits at.</summary>
    public IEnumerable<(string File, string Path, string Value)> Strings() =>
        _files.SelectMany(f => Strings(f.Body).Select(s => (f.File, s.Path, s.Value)));

    private static IEnumerable<(string Path, string Value)> Strings(JsonNode? node) => node switch
    {
        JsonObject o => o.SelectMany(p => Strings(p.Value).Select(s => (s.Path, s.Value))),
        JsonArray a => a.SelectMany(Strings),
        JsonValue v when v.TryGetValue<string>(out var text) => [(v.GetPath(), text)],
        _ => [],
    };

    private IEnumerable<Block> Bodies(string kind) =>
        _files.Where(f => f.Body[kind] is JsonArray)
            .SelectMany(f => f.Body[kind]!.AsArray().OfType<JsonObject>().Select(body => new Block(f.File, kind, kind, body)));

    private IEnumerable<Block> Named(string kind) =>
        _files.Where(f => f.Body[kind] is JsonObject)
            .SelectMany(f => f.Body[kind]!.AsObject()
                .SelectMany(named => (named.Value as JsonArray ?? []).OfType<JsonObject>().Select(body => new Block(f.File, named.Key, named.Key, body))));

    private IEnumerable<Block> Typed(string kind) =>
        _files.Where(f => f.Body[kind] is JsonObject)
            .SelectMany(f => f.Body[kind]!.AsObject()
                .SelectMany(type => (type.Value as JsonObject ?? []).SelectMany(named =>
                    (named.Value as JsonArray ?? []).OfType<JsonObject>().Select(body => new Block(f.File, type.Key, named.Key, body)))));
}

/// <summary>One block: <paramref name="Type"/> is a resource's or data source's type, else the block's name.</summary>
internal sealed record Block(string File, string Type, string Name, JsonObject Body)
{
    /// <summary>The provider a resource type belongs to: its prefix before the first '_' (aws_lb → aws).</summary>
    public string Provider => Type.Split('_')[0];
}

using System.Text.Json.Nodes;

namespace Geo.Deploy.Tests.Terraform;

/// <summary>
/// One <c>templatefile(PATH, VARS)</c> call in a module. <see cref="Template"/> is the file it names relative to
/// terraform/ (null when the path is not static, and <see cref="Problem"/> says why); <see cref="Variables"/> the map's
/// keys with their expressions (null when the map is neither an object constructor nor a local holding one, as with
/// merge(...): fine for other templates, not for a *.json.tftpl, whose keys are checked).
/// </summary>
internal sealed record TemplateCall(
    TerraformModule Module,
    string File,
    string PathExpression,
    string? Template,
    IReadOnlyList<KeyValuePair<string, string>>? Variables,
    string? Problem)
{
    public static IReadOnlyList<TemplateCall> FindAll(TerraformTree tree) =>
        tree.Modules.SelectMany(module => module.Strings()
            .SelectMany(s => HclText.CodeSegments(s.Value).SelectMany(code => HclText.Calls(code, "templatefile"))
                .Select(arguments => Create(tree, module, s.File, arguments))))
            .ToList();

    /// <summary>The calls that render an existing <c>*.json.tftpl</c> (a service's configuration).</summary>
    public static IEnumerable<TemplateCall> FindJsonTemplates(TerraformTree tree) =>
        FindAll(tree).Where(c => c.Template is { } template && template.EndsWith(".json.tftpl", StringComparison.Ordinal)
            && System.IO.File.Exists(Path.Combine(tree.Root, template)));

    private static TemplateCall Create(TerraformTree tree, TerraformModule module, string file, IReadOnlyList<string> arguments)
    {
        var pathExpression = arguments.Count > 0 ? arguments[0] : "";
        var template = TemplatePath(tree, module, pathExpression);
        var variables = arguments.Count > 1 ? MapEntries(module, arguments[1]) : [];
        string? problem = null;
        if (arguments.Count != 2)
        {
            problem = $"templatefile takes 2 arguments, this call has {arguments.Count}";
        }
        else if (template is null)
        {
            problem = $"the path {pathExpression} is not a string built from ${{path.module}} and literal text only";
        }

        return new TemplateCall(module, file, pathExpression, template, variables, problem);
    }

    private static string? TemplatePath(TerraformTree tree, TerraformModule module, string expression)
    {
        if (expression.Length < 2 || expression[0] != '"' || expression[^1] != '"')
        {
            return null;
        }

        var text = expression[1..^1]
            .Replace("${path.module}", module.FullPath, StringComparison.Ordinal)
            .Replace("${path.root}", module.FullPath, StringComparison.Ordinal);
        if (HclText.CodeSegments(text).Any())
        {
            return null;
        }

        var full = Path.GetFullPath(Path.IsPathRooted(text) ? text : Path.Combine(module.FullPath, text));
        return Path.GetRelativePath(tree.Root, full).Replace('\\', '/');
    }

    private static List<KeyValuePair<string, string>>? MapEntries(TerraformModule module, string expression)
    {
        if (HclText.ObjectEntries(expression) is { } entries)
        {
            return [.. entries];
        }

        // A local holding the map: hcl2json gives it as an object whose values are literals or "${expression}".
        if (expression.StartsWith("local.", StringComparison.Ordinal)
            && module.Locals.GetValueOrDefault(expression["local.".Length..]) is JsonObject local)
        {
            return local.Select(p => new KeyValuePair<string, string>(p.Key, Expression(p.Value))).ToList();
        }

        return null;
    }

    /// <summary>A hcl2json value as HCL expression text: "${var.x}" → var.x, "abc" → "\"abc\"", 3 → 3.</summary>
    private static string Expression(JsonNode? value) => value switch
    {
        JsonValue v when v.TryGetValue<string>(out var text) => HclText.WholeExpression(text) ?? JsonValue.Create(text).ToJsonString(),
        null => "null",
        _ => value.ToJsonString(),
    };
}

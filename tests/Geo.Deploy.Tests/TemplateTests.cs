using System.Text.RegularExpressions;
using Geo.Deploy.Tests.Templates;
using Geo.Deploy.Tests.Terraform;

namespace Geo.Deploy.Tests;

/// <summary>
/// The templatefile contract: each call names a file that exists, and a *.json.tftpl takes exactly the keys its
/// call passes, as plain ${identifier} placeholders (no %{ directives), so that what it renders is predictable JSON.
/// </summary>
[Collection(TerraformDefinition.Name)]
public sealed partial class TemplateTests(TerraformFixture terraform)
{
    [Fact]
    public void TemplateFileCalls_NameExistingFiles()
    {
        var problems = new List<string>();
        foreach (var call in TemplateCall.FindAll(terraform.Tree))
        {
            if (call.Problem is not null)
            {
                problems.Add($"{call.File}: templatefile({call.PathExpression}, ...): {call.Problem}");
            }
            else if (!File.Exists(Path.Combine(terraform.Tree.Root, call.Template!)))
            {
                problems.Add($"{call.File}: templatefile({call.PathExpression}, ...): {call.Template} does not exist");
            }
        }

        Problems.AssertNone(problems, "templatefile paths");
    }

    [Fact]
    public void JsonTemplates_Placeholders_EqualTheKeysPassed()
    {
        var problems = new List<string>();
        foreach (var call in JsonTemplateCalls())
        {
            if (call.Variables is null)
            {
                problems.Add($"{call.File}: templatefile({call.PathExpression}, ...): the variables are not an object {{ key = value }} (nor a local holding one), so their keys cannot be checked");
                continue;
            }

            var text = File.ReadAllText(Path.Combine(terraform.Tree.Root, call.Template!));
            if (text.Contains("%{", StringComparison.Ordinal))
            {
                problems.Add($"{call.Template}: has a %{{ directive; a .json.tftpl takes ${{identifier}} placeholders only");
            }

            var interpolations = Interpolation().Matches(text).Select(m => m.Groups["code"].Value.Trim()).ToList();
            problems.AddRange(interpolations.Where(code => !Identifier().IsMatch(code)).Distinct(StringComparer.Ordinal)
                .Select(code => $"{call.Template}: ${{{code}}} is not a plain ${{identifier}} placeholder"));
            var placeholders = interpolations.Where(code => Identifier().IsMatch(code)).ToHashSet(StringComparer.Ordinal);
            var keys = call.Variables.Select(v => v.Key).ToHashSet(StringComparer.Ordinal);
            problems.AddRange(placeholders.Except(keys).Order(StringComparer.Ordinal)
                .Select(p => $"{call.Template}: ${{{p}}} is not passed by templatefile in {call.File}"));
            problems.AddRange(keys.Except(placeholders).Order(StringComparer.Ordinal)
                .Select(k => $"{call.File}: templatefile passes {k}, which {call.Template} does not use"));
        }

        Problems.AssertNone(problems, "template placeholders");
    }

    [Fact]
    public void JsonTemplates_AreEachRenderedByATemplateFileCall()
    {
        var used = JsonTemplateCalls().Select(c => c.Template).ToHashSet(StringComparer.Ordinal);
        var templates = terraform.Tree.AllFiles().Where(f => f.EndsWith(".json.tftpl", StringComparison.Ordinal)).ToList();
        Assert.True(templates.Count > 0, "terraform/ holds no *.json.tftpl (the services' configuration templates)");
        Problems.AssertNone(templates.Where(t => !used.Contains(t)).Select(t => $"{t}: no templatefile call renders it"), "unused templates");
        Problems.AssertNone(templates.Where(t => CheckConfig.ProgramFor(t) is null)
            .Select(t => $"{t}: names no program (geo-region.json.tftpl, geo-router.json.tftpl, geo-replicator*.json.tftpl)"), "template names");
    }

    private IEnumerable<TemplateCall> JsonTemplateCalls() => TemplateCall.FindJsonTemplates(terraform.Tree);

    /// <summary>${...} not preceded by another $ (templatefile's escape for a literal ${).</summary>
    [GeneratedRegex(@"(?<!\$)\$\{(?<code>[^}]*)\}", RegexOptions.CultureInvariant)]
    private static partial Regex Interpolation();

    [GeneratedRegex(@"^[A-Za-z_][A-Za-z0-9_]*$", RegexOptions.CultureInvariant)]
    private static partial Regex Identifier();
}

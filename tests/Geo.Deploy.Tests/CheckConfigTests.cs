using System.Text.Json;
using System.Text.Json.Nodes;
using Geo.Deploy.Tests.Templates;
using Geo.Deploy.Tests.Terraform;
using Geo.Engines.Services;
using Xunit.Abstractions;

namespace Geo.Deploy.Tests;

/// <summary>
/// Each service's configuration template, rendered with the example's values (stubs where a value exists only after
/// apply), is valid JSON and passes the real program's --check-config: the deployment and the code agree on the settings.
/// </summary>
[Collection(TerraformDefinition.Name)]
public sealed class CheckConfigTests(TerraformFixture terraform, ITestOutputHelper output) : IDisposable
{
    private static readonly JsonDocumentOptions Json = new() { CommentHandling = JsonCommentHandling.Skip };

    private readonly SecretsFolder _secrets = new();
    private readonly DirectoryInfo _configs = Directory.CreateTempSubdirectory("geo-deploy-config-");
    private int _written;

    public void Dispose()
    {
        _secrets.Dispose();
        _configs.Delete(recursive: true);
    }

    [Fact]
    public void JsonTemplates_Rendered_AreValidJson()
    {
        var problems = new List<string>();
        foreach (var rendered in RenderAll())
        {
            try
            {
                using var _ = JsonDocument.Parse(rendered.Text, Json);
            }
            catch (JsonException e)
            {
                problems.Add($"{rendered.Template}: rendered, is not valid JSON: {e.Message}{Environment.NewLine}values:{Environment.NewLine}{rendered.Describe()}");
            }
        }

        Problems.AssertNone(problems, "rendered templates");
    }

    [Fact]
    public async Task JsonTemplates_Rendered_PassTheirProgramsCheckConfig()
    {
        var problems = new List<string>();
        foreach (var rendered in RenderAll())
        {
            if (CheckConfig.ProgramFor(rendered.Template) is not { } program)
            {
                problems.Add($"{rendered.Template}: names no program");
                continue;
            }

            var result = await CheckConfig.RunAsync(program, Write(rendered.Template, rendered.Text));
            output.WriteLine($"{rendered.Template} with:{Environment.NewLine}{rendered.Describe()}{Environment.NewLine}{program.AssemblyName} --check-config: {result}");
            if (result.ExitCode != 0)
            {
                problems.Add($"{rendered.Template}: {program.AssemblyName} --check-config: {result}{Environment.NewLine}values:{Environment.NewLine}{rendered.Describe()}");
            }
            else if (result.Output.Trim().Length == 0)
            {
                problems.Add($"{rendered.Template}: {program.AssemblyName} --check-config exited 0 without a line on stdout");
            }
        }

        Problems.AssertNone(problems, "--check-config");
    }

    [Fact]
    public async Task RegionTemplate_WithoutRegionId_FailsCheckConfigNamingRegionId()
    {
        var rendered = RenderAll().FirstOrDefault(r => CheckConfig.ProgramFor(r.Template) == GeoProgram.RegionNode);
        Assert.True(rendered is not null, "no geo-region.json.tftpl is rendered by a templatefile call");
        var config = JsonNode.Parse(rendered.Text, documentOptions: Json)!;
        var regionIds = Properties(config).Where(p => p.Name == "RegionId").ToList();
        Assert.True(regionIds.Count > 0, $"{rendered.Template} sets no RegionId");
        foreach (var (owner, name) in regionIds)
        {
            owner[name] = "";
        }

        var result = await CheckConfig.RunAsync(GeoProgram.RegionNode, Write("geo-region-without-region-id.json", config.ToJsonString()));

        output.WriteLine($"{GeoProgram.RegionNode.AssemblyName} --check-config without RegionId: {result}");
        Assert.True(result.ExitCode == 1 && result.Error.Contains("RegionId", StringComparison.Ordinal), result.ToString());
    }

    private List<RenderedTemplate> RenderAll()
    {
        var renderer = new TemplateRenderer(terraform.Tree, _secrets);
        var rendered = TemplateCall.FindJsonTemplates(terraform.Tree)
            .Where(c => c.Variables is not null)
            .Select(renderer.Render)
            .ToList();
        Assert.True(rendered.Count > 0, "no *.json.tftpl is rendered by a templatefile call (see TemplateTests)");
        return rendered;
    }

    private string Write(string template, string text)
    {
        var path = Path.Combine(_configs.FullName, $"{++_written}-{Path.GetFileName(template).Replace(".tftpl", "", StringComparison.Ordinal)}");
        File.WriteAllText(path, text);
        return path;
    }

    private static IEnumerable<(JsonObject Owner, string Name)> Properties(JsonNode? node) => node switch
    {
        JsonObject o => o.Select(p => (o, p.Key)).Concat(o.SelectMany(p => Properties(p.Value))).ToList(),
        JsonArray a => a.SelectMany(Properties),
        _ => [],
    };
}

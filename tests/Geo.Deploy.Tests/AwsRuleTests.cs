using System.Text.RegularExpressions;
using Geo.Deploy.Tests.Terraform;

namespace Geo.Deploy.Tests;

/// <summary>What AWS refuses only at apply time, after a clean plan: checked here, where no plan can run.</summary>
[Collection(TerraformDefinition.Name)]
public sealed partial class AwsRuleTests(TerraformFixture terraform)
{
    [Fact]
    public void SecurityGroupDescriptions_OnlyCharactersEc2Accepts()
    {
        // EC2 takes a-zA-Z0-9, space and ._-:/()#,@[]+=&;{}!$* in group and rule descriptions (an apostrophe fails the
        // apply with InvalidParameterValue). Rules' descriptions are built in locals, so those are checked too.
        var descriptions =
            from module in terraform.Tree.Modules
            from text in module.Strings()
            where !text.Path.Contains("].variable.", StringComparison.Ordinal) && !text.Path.Contains("].output.", StringComparison.Ordinal)
            from description in Descriptions(text.Path, text.Value)
            select (text.File, text.Path, Text: Interpolation().Replace(description, "x"));
        var problems = descriptions
            .Where(d => !Ec2Description().IsMatch(d.Text))
            .Select(d => $"{d.File} {d.Path}: \"{d.Text}\" has characters EC2 refuses in a security group description")
            .ToList();

        Problems.AssertNone(problems, "security group descriptions");
    }

    /// <summary>A security group's own description, or each <c>description = "…"</c> inside a local's expression (rules built as maps).</summary>
    private static IEnumerable<string> Descriptions(string path, string value)
    {
        if (path.Contains("].resource.aws_security_group.", StringComparison.Ordinal) && path.EndsWith(".description", StringComparison.Ordinal))
        {
            return [value];
        }

        return path.Contains("].locals", StringComparison.Ordinal) && value.Contains("security_group", StringComparison.Ordinal)
            ? EmbeddedDescription().Matches(value).Select(m => m.Groups["text"].Value)
            : [];
    }

    [GeneratedRegex(@"\bdescription\s*=\s*""(?<text>(?:[^""\\$]|\$\{[^}]*\})*)""")]
    private static partial Regex EmbeddedDescription();

    [GeneratedRegex(@"\$\{[^}]*\}")]
    private static partial Regex Interpolation();

    [GeneratedRegex(@"^[a-zA-Z0-9. _\-:/()#,@\[\]+=&;{}!$*]*$")]
    private static partial Regex Ec2Description();
}

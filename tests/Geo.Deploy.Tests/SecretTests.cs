using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Geo.Deploy.Tests.Terraform;

namespace Geo.Deploy.Tests;

/// <summary>No secret is written into terraform/: secrets come from Secrets Manager or files on the hosts, never from the code.</summary>
[Collection(TerraformDefinition.Name)]
public sealed partial class SecretTests(TerraformFixture terraform)
{
    [Fact]
    public void TerraformFiles_HoldNoSecretLiterals()
    {
        var problems = new List<string>();
        foreach (var file in terraform.Tree.AllFiles())
        {
            var text = File.ReadAllText(Path.Combine(terraform.Tree.Root, file));
            if (text.Contains('\0', StringComparison.Ordinal))
            {
                continue;
            }

            var lines = text.Split('\n');
            for (var i = 0; i < lines.Length; i++)
            {
                // Problems name the file, the line and the attribute, never the value.
                var at = $"{file}:{i + 1}";
                problems.AddRange(Assignment().Matches(lines[i])
                    .Where(m => IsSecretName(m.Groups["name"].Value.Trim('"')) && IsLiteral(m.Groups["value"].Value))
                    .Select(m => $"{at}: {m.Groups["name"].Value.Trim('"')} is given a literal value"));
                if (AccessKeyId().IsMatch(lines[i]))
                {
                    problems.Add($"{at}: an AWS access key id (AKIA...)");
                }

                if (lines[i].Contains("-----BEGIN", StringComparison.Ordinal))
                {
                    problems.Add($"{at}: a PEM block (-----BEGIN)");
                }
            }
        }

        problems.AddRange(
            from module in terraform.Tree.Modules
            from variable in module.Variables.Values
            where IsSecretName(variable.Name) && variable.Body["default"] is JsonValue v && v.TryGetValue<string>(out var value) && IsLiteral(value)
            select $"{variable.File}: variable {variable.Name} has a literal default");
        Problems.AssertNone(problems, "secret literals");
    }

    [Fact]
    public void DatabasePasswords_AreManagedByRdsOrReadFromSecretsManager()
    {
        var problems = new List<string>();
        foreach (var database in terraform.Tree.Modules.SelectMany(m => m.Resources).Where(r => r.Type is "aws_db_instance" or "aws_rds_cluster"))
        {
            var at = $"{database.File}: {database.Type}.{database.Name}";
            if (database.Body.ContainsKey("replicate_source_db"))
            {
                continue; // A read replica has the source's credentials.
            }

            var password = new[] { "password", "password_wo", "master_password", "master_password_wo" }
                .Select(a => (Attribute: a, Value: database.Body[a]))
                .FirstOrDefault(p => p.Value is not null);
            if (password.Value is not null)
            {
                var text = password.Value.ToString();
                if (!HclText.CodeSegments(text).Any(code => code.Contains("secretsmanager", StringComparison.Ordinal)))
                {
                    problems.Add($"{at}: {password.Attribute} is neither read from Secrets Manager (aws_secretsmanager_secret_version) nor left to RDS (manage_master_user_password = true)");
                }
            }
            else if (database.Body["manage_master_user_password"] is not JsonValue managed
                || (managed.TryGetValue<bool>(out var on) ? !on : !HclText.CodeSegments(managed.ToString()).Any()))
            {
                problems.Add($"{at}: sets neither manage_master_user_password = true nor a password from Secrets Manager");
            }
        }

        Problems.AssertNone(problems, "database passwords");
    }

    /// <summary>A literal value: not empty, no interpolation, and not an ARN (which names a secret in Secrets Manager, not its value).</summary>
    private static bool IsLiteral(string value) =>
        value.Length > 0 && !value.Contains("${", StringComparison.Ordinal) && !value.Contains("%{", StringComparison.Ordinal)
        && !value.StartsWith("arn:", StringComparison.Ordinal);

    /// <summary>
    /// An attribute that would hold a secret. Names ending in file, path, dir, arn, id or name point at a secret
    /// (a path on the host, a Secrets Manager ARN) and may be literal; http_tokens is EC2's IMDSv2 switch.
    /// </summary>
    private static bool IsSecretName(string name) =>
        SecretName().IsMatch(name) && !SecretReference().IsMatch(name) && !name.Equals("http_tokens", StringComparison.OrdinalIgnoreCase);

    /// <summary>name = "value" (HCL) or "name": "value" (JSON); several per line.</summary>
    [GeneratedRegex("""(?<name>"[\w.-]+"|[A-Za-z_][\w.-]*)\s*(?:(?<![=!<>])=(?!=)|:)\s*"(?<value>(?:[^"\\\r\n]|\\.)*)" """, RegexOptions.CultureInvariant | RegexOptions.IgnorePatternWhitespace)]
    private static partial Regex Assignment();

    [GeneratedRegex("password|secret|token|private_key|access_key", RegexOptions.CultureInvariant | RegexOptions.IgnoreCase)]
    private static partial Regex SecretName();

    [GeneratedRegex("_?(file|path|dir|directory|arn|id|name)$", RegexOptions.CultureInvariant | RegexOptions.IgnoreCase)]
    private static partial Regex SecretReference();

    [GeneratedRegex("AKIA[0-9A-Z]{16}", RegexOptions.CultureInvariant)]
    private static partial Regex AccessKeyId();
}

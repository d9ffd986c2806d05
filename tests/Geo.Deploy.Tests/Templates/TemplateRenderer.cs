using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Geo.Deploy.Tests.Terraform;

namespace Geo.Deploy.Tests.Templates;

/// <summary>
/// Renders a <c>*.json.tftpl</c> as <c>templatefile</c> would: each <c>${name}</c> replaced by its value's text, <c>$${</c>
/// by <c>${</c>. A value is the literal the example (terraform/examples/) gives where it gives one: a literal passed to
/// the module, or through one of the example's variables from terraform.tfvars.example or a default; else the
/// module's own default. Everything else is a stub of the right shape, because it is a resource attribute (a
/// database's address, a cache's endpoint) that only exists after apply, or an expression this reader does not
/// evaluate. Secret file paths always point at <see cref="SecretsFolder"/>: the files must exist on this machine.
/// </summary>
internal sealed partial class TemplateRenderer(TerraformTree tree, SecretsFolder secrets)
{
    private int _nextPort = 20000;

    public RenderedTemplate Render(TemplateCall call)
    {
        if (call.Template is null || call.Variables is null)
        {
            throw new InvalidOperationException($"{call.File}: {call.Problem}");
        }

        var text = File.ReadAllText(Path.Combine(tree.Root, call.Template));
        var bare = BarePlaceholders(text);
        var values = call.Variables.ToDictionary(
            v => v.Key,
            v => Value(call.Module, v.Key, v.Value, bare.Contains(v.Key)),
            StringComparer.Ordinal);
        var rendered = Placeholder().Replace(text, m =>
            m.Value.StartsWith("$$", StringComparison.Ordinal) ? m.Value[1..]
            : values.TryGetValue(m.Groups["name"].Value, out var value) ? value.Text
            : m.Value);
        return new RenderedTemplate(call.Template, rendered, values);
    }

    private TemplateValue Value(TerraformModule module, string key, string expression, bool bare)
    {
        if (SecretPath(key) is { } path)
        {
            return new(path, "the test's secrets folder");
        }

        var json = expression.StartsWith("jsonencode(", StringComparison.Ordinal) && expression.EndsWith(')');
        var literal = Evaluate(module, json ? expression["jsonencode(".Length..^1] : expression, out var origin);
        if (literal is not null)
        {
            return new(json ? literal.ToJsonString() : Text(literal), origin!);
        }

        if (json && Shaped(module, expression["jsonencode(".Length..^1].Trim()) is { } shaped)
        {
            return new(shaped.ToJsonString(), $"stub shaped like {expression["jsonencode(".Length..^1].Trim()} (its values exist only after apply)");
        }

        var type = VariableType(module, expression);
        return Stub(key, type, json || key.EndsWith("_json", StringComparison.Ordinal) || (bare && type is "map" or "object" or "list" or "set" or "tuple"), bare);
    }

    /// <summary>A literal for <paramref name="expression"/> in <paramref name="module"/>, following var. and local. to the example; null when there is none.</summary>
    private JsonNode? Evaluate(TerraformModule module, string expression, out string? origin)
    {
        origin = null;
        expression = expression.Trim();
        if (HclText.Unquote(expression) is { } text)
        {
            origin = $"literal in {module.Folder}";
            return JsonValue.Create(text);
        }

        if (expression is "true" or "false" || double.TryParse(expression, NumberStyles.Float, CultureInfo.InvariantCulture, out _))
        {
            origin = $"literal in {module.Folder}";
            return JsonNode.Parse(expression);
        }

        var reference = Reference().Match(expression);
        if (!reference.Success)
        {
            return null;
        }

        var name = reference.Groups["name"].Value;
        var value = reference.Groups["kind"].Value == "local"
            ? FromNode(module, module.Locals.GetValueOrDefault(name), $"local.{name} in {module.Folder}", out origin)
            : Variable(module, name, out origin);
        foreach (var attribute in reference.Groups["path"].Value.Split('.', StringSplitOptions.RemoveEmptyEntries))
        {
            value = (value as JsonObject)?[attribute];
        }

        if (value is null)
        {
            origin = null;
        }
        else if (reference.Groups["path"].Length > 0)
        {
            origin += reference.Groups["path"].Value;
        }

        return value;
    }

    private JsonNode? Variable(TerraformModule module, string name, out string? origin)
    {
        // The example's first call of this module (by file, then name): the example's region "a" for a region module.
        foreach (var (caller, call) in Callers(module))
        {
            if (call.Body.ContainsKey(name))
            {
                return FromNode(caller, call.Body[name], $"{caller.Folder}: module \"{call.Name}\" argument {name}", out origin);
            }
        }

        foreach (var (file, variables) in tree.VariableFiles.Where(f => Folder(f.Key) == module.Folder).OrderBy(f => f.Key, StringComparer.Ordinal))
        {
            if (variables.ContainsKey(name))
            {
                return FromNode(module, variables[name], $"{file}: {name}", out origin);
            }
        }

        if (module.Variables.GetValueOrDefault(name) is { } variable && variable.Body["default"] is { } value)
        {
            return FromNode(module, value, $"{variable.File}: default of variable {name}", out origin);
        }

        origin = null;
        return null;
    }

    private JsonNode? FromNode(TerraformModule module, JsonNode? node, string where, out string? origin)
    {
        origin = null;
        if (node is JsonValue v && v.TryGetValue<string>(out var text) && HclText.WholeExpression(text) is { } expression)
        {
            return Evaluate(module, expression, out origin);
        }

        if (node is null || HoldsExpression(node))
        {
            return null;
        }

        origin = where;
        return node.DeepClone();
    }

    private IEnumerable<(TerraformModule Caller, Block Call)> Callers(TerraformModule module) =>
        tree.Modules.Where(m => m.Folder.StartsWith("examples/", StringComparison.Ordinal))
            .SelectMany(m => m.ModuleCalls.Values.Where(c => m.LocalSource(c) == module.Folder)
                .OrderBy(c => c.File, StringComparer.Ordinal).ThenBy(c => c.Name, StringComparer.Ordinal)
                .Select(c => (m, c)));

    /// <summary>
    /// A stub with the shape of a local that builds objects, e.g. <c>[for s in var.shards : { Name = "...", Kafka = {...} }]</c>:
    /// one element, its keys those of the Terraform code, literals kept and every other value a stub by its key. So the
    /// keys the module writes are the keys the program reads. Null for any other expression.
    /// </summary>
    private JsonNode? Shaped(TerraformModule module, string expression)
    {
        var reference = Reference().Match(expression);
        if (!reference.Success || reference.Groups["kind"].Value != "local" || reference.Groups["path"].Length > 0)
        {
            return null;
        }

        return module.Locals.GetValueOrDefault(reference.Groups["name"].Value) switch
        {
            JsonValue v when v.TryGetValue<string>(out var text) && HclText.WholeExpression(text) is { } code =>
                HclText.ForObjectBody(code) is { } body && ShapedObject(body) is { } element ? new JsonArray(element)
                : HclText.ObjectEntries(code) is not null ? ShapedObject(code)
                : null,
            JsonObject node => ShapedNode("value", node),
            JsonArray node => ShapedNode("value", node),
            _ => null,
        };
    }

    private JsonObject? ShapedObject(string code)
    {
        if (HclText.ObjectEntries(code) is not { } entries)
        {
            return null;
        }

        var shaped = new JsonObject();
        foreach (var (key, value) in entries)
        {
            shaped[key] = HclText.Unquote(value) is { } text ? JsonValue.Create(text)
                : value is "true" or "false" || double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out _) ? JsonNode.Parse(value)
                : value.StartsWith('{') ? ShapedObject(value) ?? new JsonObject()
                : value.StartsWith('[') ? new JsonArray()
                : value.StartsWith('"') ? JsonValue.Create(Interpolated(key, value[1..^1]))
                : JsonValue.Create(Stub(key, null, json: false, bare: false).Text);
        }

        return shaped;
    }

    private JsonNode? ShapedNode(string key, JsonNode? node) => node switch
    {
        JsonObject o => new JsonObject(o.Select(p => KeyValuePair.Create(p.Key, ShapedNode(p.Key, p.Value)))),
        JsonArray a => new JsonArray(a.Select(e => ShapedNode(key, e)).ToArray()),
        JsonValue v when v.TryGetValue<string>(out var text) => JsonValue.Create(Interpolated(key, text)),
        _ => node?.DeepClone(),
    };

    /// <summary>A template string with each ${...} stubbed: by the last name of a plain reference (s.home_region), else by the key it is assigned to.</summary>
    private string Interpolated(string key, string template) =>
        HclText.ReplaceCodeSegments(template, code =>
            Stub(PlainReference().IsMatch(code) ? code[(code.LastIndexOf('.') + 1)..] : key, null, json: false, bare: false).Text);

    /// <summary>The kind of <c>var.x</c>'s declared type (map, list, number, bool, string...), or null for anything else.</summary>
    private static string? VariableType(TerraformModule module, string expression)
    {
        var inner = expression.StartsWith("jsonencode(", StringComparison.Ordinal) ? expression["jsonencode(".Length..^1].Trim() : expression;
        if (inner.StartsWith("concat(", StringComparison.Ordinal) || inner.StartsWith('['))
        {
            return "list";
        }

        var reference = Reference().Match(inner);
        if (!reference.Success || reference.Groups["kind"].Value != "var"
            || module.Variables.GetValueOrDefault(reference.Groups["name"].Value)?.Body["type"]?.GetValue<string>() is not { } type)
        {
            return null;
        }

        var declared = HclText.WholeExpression(type) ?? type;
        return declared.Split('(')[0].Trim();
    }

    /// <summary>Stubs, for values that exist only after apply: shaped by the key's name and the variable's type.</summary>
    private TemplateValue Stub(string key, string? type, bool json, bool bare)
    {
        var name = key.Replace('_', '-');
        var lower = key.ToLowerInvariant();
        string Why(string shape) => $"stub ({shape}; the real value exists only after apply or is not a literal here)";
        if (json)
        {
            if (type is "list" or "set" or "tuple")
            {
                return lower.Contains("tenant", StringComparison.Ordinal) ? new("[\"acme\"]", Why("a JSON list of tenants"))
                    : lower.Contains("network", StringComparison.Ordinal) || lower.Contains("cidr", StringComparison.Ordinal) ? new("[\"10.2.0.0/20\"]", Why("a JSON list of CIDR networks"))
                    : new($"[\"stub-{name}\"]", Why("a JSON list"));
            }

            return lower.Contains("server", StringComparison.Ordinal) || lower.Contains("connection", StringComparison.Ordinal)
                || lower.Contains("postgres", StringComparison.Ordinal) || lower.Contains("database", StringComparison.Ordinal)
                ? new(new JsonObject
                {
                    ["a"] = $"Host=pg-a.example.internal;Port=5432;Username=geo;Passfile={secrets.File("pgpass")}",
                    ["b"] = $"Host=pg-b.example.internal;Port=5432;Username=geo;Passfile={secrets.File("pgpass")}",
                }.ToJsonString(), Why("a JSON map of region to connection string"))
                : new($"{{\"a\":\"stub-{name}-a\",\"b\":\"stub-{name}-b\"}}", Why("a JSON map"));
        }

        if (type == "bool")
        {
            return new("false", Why("a bool"));
        }

        if (type == "number" || (bare && lower.Contains("port", StringComparison.Ordinal)))
        {
            return new((lower.Contains("port", StringComparison.Ordinal) ? _nextPort++ : 5).ToString(CultureInfo.InvariantCulture), Why("a number"));
        }

        if (lower.Contains("connection", StringComparison.Ordinal))
        {
            return new($"Host=stub-{name}.example.internal;Port=5432;Username=geo;Passfile={secrets.File("pgpass")}", Why("a connection string"));
        }

        if (lower.Contains("endpoint", StringComparison.Ordinal))
        {
            return new($"stub-{name}.example.internal:{(lower.Contains("redis", StringComparison.Ordinal) ? 6379 : 443)}", Why("host:port"));
        }

        if (lower.Contains("url", StringComparison.Ordinal))
        {
            return new($"http://stub-{name}.example.internal:8080", Why("a URL"));
        }

        if (lower.Contains("host", StringComparison.Ordinal) || lower.Contains("address", StringComparison.Ordinal)
            || lower.Contains("fqdn", StringComparison.Ordinal) || lower.Contains("dns", StringComparison.Ordinal))
        {
            return new($"stub-{name}.example.internal", Why("a host name"));
        }

        return lower.Contains("region", StringComparison.Ordinal) ? new("a", Why("a region id")) : new($"stub-{name}", Why("a string"));
    }

    /// <summary>The secret files the test creates, for keys that name them (or the folder holding them).</summary>
    private string? SecretPath(string key)
    {
        var lower = key.ToLowerInvariant();
        return lower switch
        {
            _ when lower.Contains("secrets_dir", StringComparison.Ordinal) || lower.Contains("secret_dir", StringComparison.Ordinal) => secrets.Path,
            _ when lower.Contains("keyring", StringComparison.Ordinal) => secrets.File("keyring"),
            _ when lower.Contains("inter_region", StringComparison.Ordinal) && lower.Contains("secret", StringComparison.Ordinal) => secrets.File("inter-region-secret"),
            _ when lower.Contains("redis", StringComparison.Ordinal) && lower.Contains("password", StringComparison.Ordinal) => secrets.File("redis-password"),
            _ when lower.Contains("pgpass", StringComparison.Ordinal) || lower.Contains("passfile", StringComparison.Ordinal) => secrets.File("pgpass"),
            _ => null,
        };
    }

    /// <summary>templatefile's text of a primitive: a string as is, a number or bool as HCL prints it.</summary>
    private static string Text(JsonNode value) =>
        value is JsonValue v && v.TryGetValue<string>(out var text) ? text
        : value is JsonValue b && b.TryGetValue<bool>(out var flag) ? (flag ? "true" : "false")
        : value.ToJsonString();

    private static bool HoldsExpression(JsonNode node) => node switch
    {
        JsonObject o => o.Any(p => p.Value is not null && HoldsExpression(p.Value)),
        JsonArray a => a.Any(e => e is not null && HoldsExpression(e)),
        JsonValue v => v.TryGetValue<string>(out var text) && HclText.CodeSegments(text).Any(),
        _ => false,
    };

    /// <summary>The names of placeholders that stand outside a JSON string (their value must be JSON text itself).</summary>
    private static HashSet<string> BarePlaceholders(string template)
    {
        var bare = new HashSet<string>(StringComparer.Ordinal);
        var inString = false;
        for (var i = 0; i < template.Length; i++)
        {
            var c = template[i];
            if (inString && c == '\\')
            {
                i++;
            }
            else if (c == '"')
            {
                inString = !inString;
            }
            else if (!inString && Placeholder().Match(template, i) is { Success: true } m && m.Index == i)
            {
                bare.Add(m.Groups["name"].Value);
                i += m.Length - 1;
            }
        }

        return bare;
    }

    private static string Folder(string file) => file.Contains('/', StringComparison.Ordinal) ? file[..file.LastIndexOf('/')] : "";

    [GeneratedRegex(@"\$?\$\{\s*(?<name>[A-Za-z_][\w-]*)\s*\}", RegexOptions.CultureInvariant)]
    internal static partial Regex Placeholder();

    [GeneratedRegex(@"^[A-Za-z_][\w-]*(?:\.[A-Za-z_][\w-]*)+$", RegexOptions.CultureInvariant)]
    private static partial Regex PlainReference();

    [GeneratedRegex(@"^(?<kind>var|local)\.(?<name>[A-Za-z_][\w-]*)(?<path>(?:\.[A-Za-z_][\w-]*)*)$", RegexOptions.CultureInvariant)]
    private static partial Regex Reference();
}

/// <summary>A value put into a template, and where it came from (a literal of the example, or a stub and why).</summary>
internal sealed record TemplateValue(string Text, string Origin);

internal sealed record RenderedTemplate(string Template, string Text, IReadOnlyDictionary<string, TemplateValue> Values)
{
    /// <summary>Each placeholder's value and origin, for failure messages.</summary>
    public string Describe() =>
        string.Join(Environment.NewLine, Values.OrderBy(v => v.Key, StringComparer.Ordinal).Select(v => $"  {v.Key} = {v.Value.Text}  ({v.Value.Origin})"));
}

using System.Text;
using System.Text.RegularExpressions;

namespace Geo.Deploy.Tests.Terraform;

/// <summary>
/// Reads the expression strings hcl2json leaves in its output ("${var.x}-b", "${templatefile(...)}"): enough of HCL's
/// expression syntax to find references and the arguments of a call, respecting quoted strings, nested templates,
/// brackets and comments. Not an evaluator.
/// </summary>
internal static partial class HclText
{
    /// <summary>The code inside each <c>${...}</c> and <c>%{...}</c> of a template string (<c>$${</c> is a literal).</summary>
    public static IEnumerable<string> CodeSegments(string template) =>
        Segments(template).Select(s => template[s.CodeStart..s.CodeEnd].Trim('~', ' ', '\t', '\r', '\n'));

    /// <summary>The template with each <c>${...}</c> replaced by what <paramref name="replace"/> makes of its code.</summary>
    public static string ReplaceCodeSegments(string template, Func<string, string> replace)
    {
        var text = new StringBuilder();
        var at = 0;
        foreach (var (start, codeStart, codeEnd) in Segments(template))
        {
            text.Append(template, at, start - at).Append(replace(template[codeStart..codeEnd].Trim('~', ' ', '\t', '\r', '\n')));
            at = Math.Min(codeEnd + 1, template.Length);
        }

        return text.Append(template, at, template.Length - at).ToString();
    }

    /// <summary>The body of a list for-expression (<c>[for s in xs : BODY if c]</c>) when it is an object constructor; else null.</summary>
    public static string? ForObjectBody(string code)
    {
        code = WithoutComments(code).Trim();
        if (!code.StartsWith('[') || !code[1..].TrimStart().StartsWith("for ", StringComparison.Ordinal))
        {
            return null;
        }

        var colon = Scan(code, 1, static c => c == ':');
        var body = colon < code.Length ? code[(colon + 1)..].TrimStart() : "";
        if (!body.StartsWith('{'))
        {
            return null;
        }

        var end = Scan(body, 1, static c => c == '}');
        return end < body.Length ? body[..(end + 1)] : null;
    }

    private static IEnumerable<(int Start, int CodeStart, int CodeEnd)> Segments(string template)
    {
        for (var i = 0; i < template.Length - 1; i++)
        {
            if ((template[i] == '$' || template[i] == '%') && template[i + 1] == template[i] && i + 2 < template.Length && template[i + 2] == '{')
            {
                i += 2;
                continue;
            }

            if ((template[i] == '$' || template[i] == '%') && template[i + 1] == '{')
            {
                var end = Scan(template, i + 2, static c => c == '}');
                yield return (i, i + 2, Math.Min(end, template.Length));
                i = end;
            }
        }
    }

    /// <summary>The expression of a string that is one interpolation and nothing else ("${var.x}" → "var.x"); else null.</summary>
    public static string? WholeExpression(string template)
    {
        if (!template.StartsWith("${", StringComparison.Ordinal))
        {
            return null;
        }

        var end = Scan(template, 2, static c => c == '}');
        return end == template.Length - 1 ? template[2..end].Trim() : null;
    }

    public static IEnumerable<string> VariableReferences(string template) => Names(template, VariableReference());

    public static IEnumerable<string> LocalReferences(string template) => Names(template, LocalReference());

    /// <summary>Each <c>module.NAME</c> with the output it reads (<c>module.NAME[0].OUTPUT</c> too), or a null output.</summary>
    public static IEnumerable<(string Module, string? Output)> ModuleReferences(string template) =>
        CodeSegments(template).SelectMany(code => ModuleReference().Matches(code))
            .Select(m => (m.Groups["module"].Value, m.Groups["output"].Success ? m.Groups["output"].Value : null));

    /// <summary>The argument texts of every call of <paramref name="function"/> in the code (nested calls too).</summary>
    public static IEnumerable<IReadOnlyList<string>> Calls(string code, string function)
    {
        var pattern = new Regex(@"(?<![\w.])" + Regex.Escape(function) + @"\s*\(", RegexOptions.CultureInvariant);
        foreach (Match call in pattern.Matches(code))
        {
            var arguments = new List<string>();
            var i = call.Index + call.Length;
            while (i < code.Length)
            {
                var end = Scan(code, i, static c => c is ',' or ')');
                arguments.Add(code[i..end].Trim());
                if (end >= code.Length || code[end] == ')')
                {
                    break;
                }

                i = end + 1;
            }

            yield return arguments.Where(a => a.Length > 0).ToList();
        }
    }

    /// <summary>The entries of an object constructor <c>{ key = value, ... }</c> (newlines or commas between them); null when the text is not one.</summary>
    public static IReadOnlyList<KeyValuePair<string, string>>? ObjectEntries(string code)
    {
        code = WithoutComments(code).Trim();
        if (code.Length < 2 || code[0] != '{' || Scan(code, 1, static c => c == '}') != code.Length - 1
            || code[1..].TrimStart().StartsWith("for ", StringComparison.Ordinal))
        {
            return null; // Not an object constructor (a map for-expression is not one either).
        }

        var entries = new List<KeyValuePair<string, string>>();
        var i = 1;
        var end = code.Length - 1;
        while (true)
        {
            while (i < end && (char.IsWhiteSpace(code[i]) || code[i] == ','))
            {
                i++;
            }

            if (i >= end)
            {
                return entries;
            }

            var keyEnd = Scan(code, i, static c => c is '=' or ':');
            var key = code[i..keyEnd].Trim();
            if (keyEnd >= end || (code[keyEnd] == '=' && keyEnd + 1 < end && code[keyEnd + 1] == '='))
            {
                return null;
            }

            var valueEnd = Math.Min(Scan(code, keyEnd + 1, static c => c is ',' or '\n'), end);
            entries.Add(new(Unquote(key) ?? key, code[(keyEnd + 1)..valueEnd].Trim()));
            i = valueEnd;
        }
    }

    /// <summary>The text of a quoted string literal without interpolations ("\"abc\"" → "abc"); else null.</summary>
    public static string? Unquote(string code)
    {
        code = code.Trim();
        if (code.Length < 2 || code[0] != '"' || SkipString(code, 0) != code.Length)
        {
            return null;
        }

        var inner = code[1..^1];
        return CodeSegments(inner).Any() ? null : Regex.Unescape(inner.Replace("$${", "${", StringComparison.Ordinal).Replace("%%{", "%{", StringComparison.Ordinal));
    }

    /// <summary>The code with <c>#</c>, <c>//</c> and <c>/* */</c> comments outside strings removed (line ends kept).</summary>
    public static string WithoutComments(string code)
    {
        var text = new StringBuilder(code.Length);
        var i = 0;
        while (i < code.Length)
        {
            if (code[i] == '"')
            {
                var end = SkipString(code, i);
                text.Append(code, i, end - i);
                i = end;
            }
            else if (code[i] == '#' || (code[i] == '/' && At(code, i + 1, '/')))
            {
                while (i < code.Length && code[i] != '\n')
                {
                    i++;
                }
            }
            else if (code[i] == '/' && At(code, i + 1, '*'))
            {
                var close = code.IndexOf("*/", i + 2, StringComparison.Ordinal);
                i = close < 0 ? code.Length : close + 2;
            }
            else
            {
                text.Append(code[i++]);
            }
        }

        return text.ToString();
    }

    /// <summary>
    /// The index of the first character at bracket depth 0 for which <paramref name="stop"/> holds, or of an unmatched
    /// closing bracket, or the end; quoted strings (with their own <c>${...}</c>) are stepped over whole.
    /// </summary>
    private static int Scan(string code, int start, Func<char, bool> stop)
    {
        var depth = 0;
        var i = start;
        while (i < code.Length)
        {
            var c = code[i];
            if (depth == 0 && stop(c))
            {
                return i;
            }

            switch (c)
            {
                case '"':
                    i = SkipString(code, i);
                    continue;
                case '(' or '[' or '{':
                    depth++;
                    break;
                case ')' or ']' or '}':
                    if (depth == 0)
                    {
                        return i;
                    }

                    depth--;
                    break;
            }

            i++;
        }

        return code.Length;
    }

    /// <summary>The index after the quoted string starting at <paramref name="start"/>.</summary>
    private static int SkipString(string code, int start)
    {
        var i = start + 1;
        while (i < code.Length)
        {
            var c = code[i];
            if (c == '\\')
            {
                i += 2;
            }
            else if (c == '"')
            {
                return i + 1;
            }
            else if ((c == '$' || c == '%') && At(code, i + 1, c) && At(code, i + 2, '{'))
            {
                i += 3;
            }
            else if ((c == '$' || c == '%') && At(code, i + 1, '{'))
            {
                i = Scan(code, i + 2, static ch => ch == '}') + 1;
            }
            else
            {
                i++;
            }
        }

        return code.Length;
    }

    private static bool At(string code, int index, char c) => index < code.Length && code[index] == c;

    private static IEnumerable<string> Names(string template, Regex pattern) =>
        CodeSegments(template).SelectMany(code => pattern.Matches(code)).Select(m => m.Groups["name"].Value);

    [GeneratedRegex(@"(?<![\w.])var\.(?<name>[A-Za-z_][\w-]*)", RegexOptions.CultureInvariant)]
    private static partial Regex VariableReference();

    [GeneratedRegex(@"(?<![\w.])local\.(?<name>[A-Za-z_][\w-]*)", RegexOptions.CultureInvariant)]
    private static partial Regex LocalReference();

    [GeneratedRegex(@"(?<![\w.])module\.(?<module>[A-Za-z_][\w-]*)(?:\[[^\]]*\])*(?:\.(?<output>[A-Za-z_][\w-]*))?", RegexOptions.CultureInvariant)]
    private static partial Regex ModuleReference();
}

using System.Collections.Concurrent;
using System.Reflection;
using System.Text.Json;

namespace Geo.RegionNode.Api;

/// <summary>
/// Refuses, before any database sees it, text PostgreSQL cannot store: a NUL (U+0000) or a lone UTF-16 surrogate in a path
/// segment, a query parameter, the <c>Idempotency-Key</c> header or any string field of a JSON body. Without this the
/// database refuses it mid-transaction and the client gets a vague error instead of the field to fix.
/// </summary>
internal sealed class TextInput : IEndpointFilter
{
    private static readonly ConcurrentDictionary<Type, (string Name, PropertyInfo Property)[]> BodyFields = new();

    public ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        var errors = new Dictionary<string, string[]>();
        foreach (var (name, value) in http.Request.RouteValues)
        {
            Check(errors, name, value as string);
        }

        foreach (var (name, values) in http.Request.Query)
        {
            foreach (var value in values)
            {
                Check(errors, name, value);
            }
        }

        foreach (var value in http.Request.Headers[BillingEndpoints.IdempotencyHeader])
        {
            Check(errors, BillingEndpoints.IdempotencyHeader, value);
        }

        foreach (var argument in context.Arguments)
        {
            if (argument is not null && argument.GetType().Namespace == typeof(TextInput).Namespace)
            {
                foreach (var (name, property) in BodyFields.GetOrAdd(argument.GetType(), StringProperties))
                {
                    Check(errors, name, property.GetValue(argument) as string);
                }
            }
        }

        return errors.Count > 0 ? ValueTask.FromResult<object?>(Results.ValidationProblem(errors)) : next(context);
    }

    private static void Check(Dictionary<string, string[]> errors, string field, string? value) =>
        Validation.Require(errors, field, value is null || Validation.IsStorableText(value),
            "text without NUL (U+0000) characters or unpaired surrogates");

    private static (string, PropertyInfo)[] StringProperties(Type type) =>
        [.. type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.PropertyType == typeof(string) && p.GetIndexParameters().Length == 0)
            .Select(p => (JsonNamingPolicy.CamelCase.ConvertName(p.Name), p))];
}

using System.Globalization;
using System.Reflection;
using Microsoft.AspNetCore.Http.Metadata;

namespace Capstan.Api.Errors;

/// <summary>
/// Which route or query value of a request could not be parsed into its endpoint parameter's type. Consulted only
/// for a bare 400 (the error path), so the reflection here never runs on a good request.
/// </summary>
internal static class ParameterBindingFailure
{
    public static string? Find(HttpContext context)
    {
        if (context.GetEndpoint() is not { } endpoint)
        {
            return null;
        }

        foreach (var parameter in endpoint.Metadata.GetOrderedMetadata<IParameterBindingMetadata>())
        {
            if (!parameter.HasTryParse)
            {
                continue;
            }

            var raw = context.Request.RouteValues.TryGetValue(parameter.Name, out var routeValue)
                ? Convert.ToString(routeValue, CultureInfo.InvariantCulture)
                : context.Request.Query[parameter.Name].ToString();
            if (!string.IsNullOrEmpty(raw) && !Parses(parameter.ParameterInfo.ParameterType, raw))
            {
                return parameter.Name;
            }
        }

        return null;
    }

    private static bool Parses(Type type, string raw)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        if (type == typeof(string))
        {
            return true;
        }

        if (type.IsEnum)
        {
            return Enum.TryParse(type, raw, ignoreCase: true, out _);
        }

        var arguments = new object?[] { raw, CultureInfo.InvariantCulture, null };
        if (type.GetMethod("TryParse", BindingFlags.Public | BindingFlags.Static, [typeof(string), typeof(IFormatProvider), type.MakeByRefType()]) is { } withProvider)
        {
            return (bool)withProvider.Invoke(null, arguments)!;
        }

        if (type.GetMethod("TryParse", BindingFlags.Public | BindingFlags.Static, [typeof(string), type.MakeByRefType()]) is { } plain)
        {
            return (bool)plain.Invoke(null, [raw, null])!;
        }

        // A type parsed some other way (BindAsync, a custom parser): not something to second-guess here.
        return true;
    }
}

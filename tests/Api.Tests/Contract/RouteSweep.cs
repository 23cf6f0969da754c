using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Patterns;
using Microsoft.Extensions.DependencyInjection;

namespace Capstan.Api.Tests.Contract;

/// <summary>
/// What the sweeps walk: every mapped route of the host (so a new route cannot skip a sweep) with its methods, turned
/// into concrete URLs, and checked against the route inventory (docs/routes.tsv) so that rows not mapped yet are
/// reported and picked up as soon as their area lands.
/// </summary>
public static class RouteSweep
{
    /// <summary>The id put into parameters nobody owns.</summary>
    public const string UnknownId = "00000000-0000-0000-0000-0000000000f1";

    public sealed record SweptRoute(RouteEndpoint Endpoint, string Method)
    {
        public string Template => Endpoint.RoutePattern.RawText ?? string.Empty;

        public string Key => RouteInventory.Key(Method, Template);

        public override string ToString() => $"{Method} {Template}";
    }

    public static IEnumerable<RouteEndpoint> Endpoints(IServiceProvider services) =>
        services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>();

    public static IReadOnlyList<SweptRoute> Routes(IServiceProvider services) =>
    [
        .. Endpoints(services).SelectMany(endpoint =>
            (endpoint.Metadata.GetMetadata<HttpMethodMetadata>()?.HttpMethods ?? ["GET"]).Select(method => new SweptRoute(endpoint, method))),
    ];

    /// <summary>A concrete URL for the pattern: integers for int-constrained parameters, the unknown id otherwise, or
    /// what <paramref name="value"/> returns for a parameter (by its segment index).</summary>
    public static string Concrete(RoutePattern pattern, Func<int, RoutePatternParameterPart, string?>? value = null) =>
        "/" + string.Join('/', pattern.PathSegments.Select((segment, index) => string.Concat(segment.Parts.Select(part => part switch
        {
            RoutePatternLiteralPart literal => literal.Content,
            RoutePatternParameterPart parameter when value?.Invoke(index, parameter) is { } given => Uri.EscapeDataString(given),
            RoutePatternParameterPart parameter when parameter.ParameterPolicies.Any(policy => policy.Content == "int") => "1",
            RoutePatternParameterPart => UnknownId,
            RoutePatternSeparatorPart separator => separator.Content,
            _ => string.Empty,
        }))));

    /// <summary>
    /// Whether the pattern starts with <paramref name="prefix"/> (literal segments and <c>{}</c> for one parameter, as
    /// in <c>/api/v1/requests/{}</c>); returns the index of the prefix's last parameter segment.
    /// </summary>
    public static int? MatchPrefix(RoutePattern pattern, string prefix)
    {
        var wanted = prefix.Trim('/').Split('/');
        if (pattern.PathSegments.Count < wanted.Length)
        {
            return null;
        }

        int? parameterIndex = null;
        for (var i = 0; i < wanted.Length; i++)
        {
            var parts = pattern.PathSegments[i].Parts;
            if (wanted[i] == "{}")
            {
                if (parts is not [RoutePatternParameterPart])
                {
                    return null;
                }

                parameterIndex = i;
            }
            else if (parts is not [RoutePatternLiteralPart literal] || !string.Equals(literal.Content, wanted[i], StringComparison.OrdinalIgnoreCase))
            {
                return null;
            }
        }

        return parameterIndex;
    }

    /// <summary>The inventory rows no route serves yet, by area (the sweeps pick them up when they are mapped).</summary>
    public static string PendingInventory(IReadOnlyList<SweptRoute> routes)
    {
        var mapped = routes.Select(route => route.Key).ToHashSet();
        var pending = RouteInventory.Rows.Where(row => !mapped.Contains(row.Key)).GroupBy(row => row.Area)
            .Select(group => $"{group.Key} {group.Count()}").ToList();
        return pending.Count == 0 ? "none" : string.Join(", ", pending);
    }
}

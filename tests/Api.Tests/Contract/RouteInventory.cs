using System.Text.RegularExpressions;

namespace Capstan.Api.Tests.Contract;

/// <summary>docs/routes.tsv: every route the seeds name, one per row (area, method, route, seeds, auth, description).</summary>
public static partial class RouteInventory
{
    public static IReadOnlyList<Row> Rows { get; } = Load();

    /// <summary>A route key that ignores parameter names and constraints: <c>GET /api/v1/users/{}</c>.</summary>
    public static string Key(string method, string route) =>
        $"{method.ToUpperInvariant()} {Parameter().Replace(route.TrimEnd('/'), "{}").ToLowerInvariant()}";

    private static List<Row> Load()
    {
        var path = Path.Combine(AppContext.BaseDirectory, "routes.tsv");
        return [.. File.ReadAllLines(path)
            .Skip(1)
            .Where(line => line.Length > 0)
            .Select(line => line.Split('\t'))
            .Select(cells => new Row(cells[0], cells[1], cells[2], cells.Length > 4 ? cells[4] : string.Empty))];
    }

    [GeneratedRegex("\\{[^}]*\\}")]
    private static partial Regex Parameter();

    public sealed record Row(string Area, string Method, string Route, string SeedAuth)
    {
        public string Key => RouteInventory.Key(Method, Route);

        public override string ToString() => $"{Area} {Method} {Route}";
    }
}

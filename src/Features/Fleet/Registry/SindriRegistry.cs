using System.Text.Json;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Tools;

namespace Capstan.Features.Fleet.Registry;

/// <summary>
/// What the registry routes read from the <c>sindri</c> CLI (setting <c>Sindri:CliPath</c>): <c>extension list
/// --json</c>, <c>profile list --json</c>, <c>version --json</c>. Output may be a bare array or an object holding it
/// (<c>{"extensions": [...]}</c>, <c>{"profiles": [...]}</c>). A missing CLI is a 503 naming it; a CLI that fails, times
/// out or prints something else is a 503 saying so.
/// </summary>
public static class SindriRegistry
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(15);

    public sealed record CliExtension(string Name, string Category, string? Version, string? Software, string? Status, string? Description, string[] Dependencies);

    public sealed record CliProfile(string Name, string? Description, string[] Extensions);

    public static async Task<JsonDocument> RunAsync(SindriCli cli, IReadOnlyList<string> arguments, CancellationToken cancellationToken)
    {
        if (!cli.IsAvailable)
        {
            throw new ServiceUnavailableException(
                $"The sindri CLI is not available (Sindri__CliPath is '{Path.GetFileName(cli.Path)}' and no such executable was found)", "CLI_UNAVAILABLE");
        }

        return await cli.RunJsonAsync(arguments, Timeout, cancellationToken)
            ?? throw new ServiceUnavailableException($"The sindri CLI failed to answer 'sindri {string.Join(' ', arguments)}'", "CLI_UNAVAILABLE");
    }

    public static async Task<List<CliExtension>> ExtensionsAsync(SindriCli cli, CancellationToken cancellationToken)
    {
        using var output = await RunAsync(cli, ["extension", "list", "--json"], cancellationToken);
        return [.. Items(output.RootElement, "extensions").Select(item => new CliExtension(
                Text(item, "name")!,
                Text(item, "category") ?? "uncategorized",
                Text(item, "version"),
                Text(item, "software"),
                Text(item, "status"),
                Text(item, "description"),
                Texts(item, "dependencies")))
            .Where(extension => !string.IsNullOrWhiteSpace(extension.Name))];
    }

    public static async Task<List<CliProfile>> ProfilesAsync(SindriCli cli, CancellationToken cancellationToken)
    {
        using var output = await RunAsync(cli, ["profile", "list", "--json"], cancellationToken);
        return [.. Items(output.RootElement, "profiles")
            .Select(item => new CliProfile(Text(item, "name")!, Text(item, "description"), Texts(item, "extensions")))
            .Where(profile => !string.IsNullOrWhiteSpace(profile.Name))];
    }

    private static IEnumerable<JsonElement> Items(JsonElement root, string property)
    {
        var array = root.ValueKind == JsonValueKind.Array ? root
            : root.ValueKind == JsonValueKind.Object && root.TryGetProperty(property, out var inner) && inner.ValueKind == JsonValueKind.Array ? inner
            : throw new ServiceUnavailableException($"The sindri CLI printed no {property} list", "CLI_UNAVAILABLE");
        return array.EnumerateArray().Where(item => item.ValueKind == JsonValueKind.Object).Select(item => item.Clone()).ToList();
    }

    public static string? Text(JsonElement item, params string[] names) =>
        names.Select(name => item.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null)
            .FirstOrDefault(value => value is not null);

    private static string[] Texts(JsonElement item, string name) =>
        item.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Array
            ? [.. value.EnumerateArray().Where(entry => entry.ValueKind == JsonValueKind.String).Select(entry => entry.GetString()!)]
            : [];
}

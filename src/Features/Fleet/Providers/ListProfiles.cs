using System.Text.Json;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Http;
using Capstan.Infrastructure.Mediation;
using Capstan.Infrastructure.Routing;
using Capstan.Infrastructure.Security;
using Capstan.Infrastructure.Tools;
using MediatR;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Capstan.Features.Fleet.Providers;

/// <summary><c>GET /api/v1/profiles</c> (seed 004): the extension profiles the <c>sindri</c> CLI knows
/// (<c>sindri profile list --json</c>, an array or <c>{profiles: [...]}</c>; a profile listed without its extensions is
/// completed with <c>sindri profile info &lt;name&gt; --json</c>) → <c>{profiles: [{name, description, extensions,
/// extension_count}], data, total}</c>. 503 <c>CLI_UNAVAILABLE</c> naming <c>Sindri:CliPath</c> when the CLI is missing
/// or does not answer.</summary>
public static class ListProfiles
{
    public sealed record Query : IQuery<Response>;

    public sealed record Profile(string Name, string Description, IReadOnlyList<string> Extensions, [property: System.Text.Json.Serialization.JsonPropertyName("extension_count")] int ExtensionCount);

    public sealed record Response(IReadOnlyList<Profile> Profiles, IReadOnlyList<Profile> Data, int Total);

    internal sealed class Handler(SindriCli cli) : IRequestHandler<Query, Response>
    {
        private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

        public async Task<Response> Handle(Query query, CancellationToken cancellationToken)
        {
            using var listed = await cli.RunJsonAsync(["profile", "list", "--json"], Timeout, cancellationToken) ?? throw Unavailable(cli);
            var root = listed.RootElement;
            var items = root.ValueKind == JsonValueKind.Array ? root : root.TryGetProperty("profiles", out var inner) && inner.ValueKind == JsonValueKind.Array ? inner : throw Unavailable(cli);
            var profiles = new List<Profile>();
            foreach (var item in items.EnumerateArray())
            {
                var name = item.ValueKind == JsonValueKind.String ? item.GetString() : Text(item, "name");
                if (string.IsNullOrWhiteSpace(name))
                {
                    continue;
                }

                var description = item.ValueKind == JsonValueKind.Object ? Text(item, "description") : null;
                var extensions = item.ValueKind == JsonValueKind.Object ? Names(item) : null;
                if (extensions is null)
                {
                    using var info = await cli.RunJsonAsync(["profile", "info", name, "--json"], Timeout, cancellationToken) ?? throw Unavailable(cli);
                    extensions = Names(info.RootElement) ?? [];
                    description ??= Text(info.RootElement, "description");
                }

                profiles.Add(new Profile(name, description ?? string.Empty, extensions, extensions.Count));
            }

            return new Response(profiles, profiles, profiles.Count);
        }

        private static string? Text(JsonElement item, string name) =>
            item.ValueKind == JsonValueKind.Object && item.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

        private static List<string>? Names(JsonElement item) =>
            item.ValueKind == JsonValueKind.Object && item.TryGetProperty("extensions", out var list) && list.ValueKind == JsonValueKind.Array
                ? [.. list.EnumerateArray().Select(entry => entry.ValueKind == JsonValueKind.String ? entry.GetString() : Text(entry, "name")).OfType<string>()]
                : null;

        private static ServiceUnavailableException Unavailable(SindriCli cli) =>
            new($"The sindri CLI is not available at '{cli.Path}' (Sindri:CliPath) or did not list profiles", "CLI_UNAVAILABLE");
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/profiles", async (IMediator mediator, CancellationToken cancellationToken) => TypedResults.Ok(await mediator.Send(new Query(), cancellationToken)))
                .RequirePermission(Permissions.FleetRead)
                .WithName(nameof(ListProfiles))
                .WithTags(FleetRoutes.Profiles)
                .WithSummary("List extension profiles")
                .ProducesErrors(401, 403, 503);
    }
}

using System.Reflection;
using System.Text.Json;
using System.Text.Json.Serialization;
using Capstan.Infrastructure.Http;
using Capstan.Infrastructure.Mediation;
using Capstan.Infrastructure.Routing;
using Capstan.Infrastructure.Security;
using Capstan.Infrastructure.Tools;
using MediatR;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Capstan.Features.Platform;

/// <summary><c>GET /api/v1/version</c> (seed 004, any signed-in caller): this API's version and the Sindri CLI's
/// (from <c>sindri version --json</c>), with the minimum instance version derived from the CLI's major.minor. The CLI
/// fields are null and <c>cli_available</c> false when the CLI is not installed.</summary>
public static class GetVersion
{
    public sealed record Query : IQuery<Response>;

    public sealed record Response(
        [property: JsonPropertyName("console_api")] string ConsoleApi,
        [property: JsonPropertyName("sindri_cli")] string? SindriCli,
        [property: JsonPropertyName("cli_target")] string? CliTarget,
        [property: JsonPropertyName("cli_commit")] string? CliCommit,
        [property: JsonPropertyName("cli_build_date")] string? CliBuildDate,
        [property: JsonPropertyName("min_instance_version")] string? MinInstanceVersion,
        [property: JsonPropertyName("cli_available")] bool CliAvailable);

    internal sealed class Handler(SindriCli cli) : IRequestHandler<Query, Response>
    {
        private static readonly string ApiVersion =
            typeof(Handler).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "1.0.0";

        public async Task<Response> Handle(Query request, CancellationToken cancellationToken)
        {
            using var output = await cli.RunJsonAsync(["version", "--json"], TimeSpan.FromSeconds(5), cancellationToken);
            if (output?.RootElement is not { ValueKind: JsonValueKind.Object } root)
            {
                return new Response(ApiVersion, null, null, null, null, null, false);
            }

            var version = Text(root, "version", "cli_version", "sindri_cli");
            return new Response(
                ApiVersion,
                version,
                Text(root, "target", "cli_target"),
                Text(root, "commit", "cli_commit", "git_commit"),
                Text(root, "build_date", "buildDate", "cli_build_date"),
                MinimumInstanceVersion(version),
                true);
        }

        private static string? Text(JsonElement root, params string[] names) =>
            names.Select(name => root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null)
                .FirstOrDefault(value => value is not null);

        private static string? MinimumInstanceVersion(string? version)
        {
            var parts = version?.TrimStart('v').Split('.');
            return parts is { Length: >= 2 } && int.TryParse(parts[0], out var major) && int.TryParse(parts[1], out var minor)
                ? $"{major}.{minor}.0"
                : null;
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/version", async (IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(), cancellationToken)))
                .RequirePermission(Permissions.PlatformVersionRead)
                .WithName(nameof(GetVersion))
                .WithTags(PlatformRoutes.Tag)
                .WithSummary("API version, Sindri CLI version and minimum instance version")
                .ProducesErrors(401, 403);
    }
}

using System.Text.Json;
using Capstan.Infrastructure.Http;
using Capstan.Infrastructure.Mediation;
using Capstan.Infrastructure.Routing;
using Capstan.Infrastructure.Security;
using Capstan.Infrastructure.Tools;
using MediatR;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Capstan.Features.Fleet.Registry;

/// <summary><c>GET /api/v1/registry/version</c> (seed 004): what <c>sindri version --json</c> says →
/// <c>{version, commit, buildDate, target}</c>; 503 when the CLI is missing, fails, or names no version.</summary>
public static class GetRegistryVersion
{
    public sealed record Query : IQuery<Response>;

    public sealed record Response(string Version, string? Commit, string? BuildDate, string? Target);

    internal sealed class Handler(SindriCli cli) : IRequestHandler<Query, Response>
    {
        public async Task<Response> Handle(Query query, CancellationToken cancellationToken)
        {
            using var output = await SindriRegistry.RunAsync(cli, ["version", "--json"], cancellationToken);
            var root = output.RootElement;
            var version = root.ValueKind == JsonValueKind.Object ? SindriRegistry.Text(root, "version", "cli_version") : null;
            if (version is null)
            {
                throw new Capstan.Infrastructure.Errors.ServiceUnavailableException("The sindri CLI did not report a version", "CLI_UNAVAILABLE");
            }

            return new Response(
                version,
                SindriRegistry.Text(root, "commit", "git_commit"),
                SindriRegistry.Text(root, "build_date", "buildDate"),
                SindriRegistry.Text(root, "target"));
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/registry/version", async (IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(), cancellationToken)))
                .RequirePermission(Permissions.FleetRead)
                .WithName(nameof(GetRegistryVersion))
                .WithTags(FleetRoutes.Registry)
                .WithSummary("sindri CLI version information")
                .ProducesErrors(401, 403, 503);
    }
}

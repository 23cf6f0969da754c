using Capstan.Infrastructure.Audit;
using Capstan.Infrastructure.Crypto;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Http;
using Capstan.Infrastructure.Mediation;
using Capstan.Infrastructure.Routing;
using Capstan.Infrastructure.Security;
using FluentValidation;
using MediatR;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Capstan.Features.Access.GitOps;

/// <summary><c>GET /api/v1/argocd-endpoints/{id}/discovered-apps?project=</c> (seed 003; GitOps feature): the
/// applications the ArgoCD server holds, fetched live (a command: the endpoint's health is recorded and audited either way); a disabled
/// endpoint or an ArgoCD failure is a 503 saying what went wrong.</summary>
public static class ListDiscoveredApps
{
    public sealed record Command(Guid Id, string? Project) : ICommand<Outcome>;

    /// <summary>The apps, or why there are none (answered as a 503 once the health record is committed).</summary>
    public sealed record Outcome(IReadOnlyList<DiscoveredApp>? Apps, string? Failure);

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator() => RuleFor(command => command.Project).MaximumLength(253);
    }

    internal sealed class Handler(DbSession db, AuditTrail audit, EnvelopeCipher cipher) : IRequestHandler<Command, Outcome>
    {
        private const string Target = """
            SELECT id, name, base_url, token_envelope, tls_ca_pem, tls_server_name, enabled
            FROM access.argocd_endpoints WHERE id = @Id AND deleted_at IS NULL
            """;

        private const string Health = """
            UPDATE access.argocd_endpoints
            SET last_health_at = CASE WHEN @Error::text IS NULL THEN now() ELSE last_health_at END, last_health_error = @Error, updated_at = now()
            WHERE id = @Id
            """;

        public async Task<Outcome> Handle(Command command, CancellationToken cancellationToken)
        {
            var endpoint = await db.QuerySingleOrDefaultAsync<Row>(Target, new { command.Id }, cancellationToken)
                ?? throw new NotFoundException("argocd endpoint not found");
            if (!endpoint.Enabled)
            {
                return new Outcome(null, "argocd endpoint is disabled");
            }

            var token = cipher.DecryptString(endpoint.TokenEnvelope, $"access.argocd_endpoints:{endpoint.Id}");
            string? failure = null;
            IReadOnlyList<DiscoveredApp>? apps = null;
            try
            {
                apps = await ArgoCdClient.ListApplicationsAsync(new ArgoCdTarget(endpoint.BaseUrl, token, endpoint.TlsCaPem, endpoint.TlsServerName), command.Project, cancellationToken);
            }
            catch (ArgoCdException exception)
            {
                failure = exception.Message;
            }

            await db.ExecuteAsync(Health, new { endpoint.Id, Error = failure }, cancellationToken);
            audit.Record("argocd_endpoint.discover", "argocd_endpoint", endpoint.Id.ToString(), endpoint.Name, new { apps = apps?.Count, error = failure });
            return new Outcome(apps, failure);
        }

        private sealed class Row
        {
            public Guid Id { get; init; }

            public string Name { get; init; } = string.Empty;

            public string BaseUrl { get; init; } = string.Empty;

            public byte[] TokenEnvelope { get; init; } = [];

            public string? TlsCaPem { get; init; }

            public string? TlsServerName { get; init; }

            public bool Enabled { get; init; }
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/argocd-endpoints/{id}/discovered-apps", async (Guid id, string? project, IMediator mediator, CancellationToken cancellationToken) =>
                {
                    var outcome = await mediator.Send(new Command(id, project), cancellationToken);
                    return outcome.Apps is { } apps ? TypedResults.Ok(apps) : throw new ServiceUnavailableException(outcome.Failure!);
                })
                .RequireFeature(AccessRoutes.GitOpsFeature)
                .RequirePermission(Permissions.AccessRead)
                .WithName(nameof(ListDiscoveredApps))
                .WithTags(AccessRoutes.GitOps)
                .WithSummary("List the applications an ArgoCD endpoint holds")
                .Produces<IReadOnlyList<DiscoveredApp>>(200)
                .ProducesErrors(400, 401, 403, 404, 503);
    }
}

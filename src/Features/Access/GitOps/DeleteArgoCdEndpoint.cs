using Capstan.Infrastructure.Audit;
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

/// <summary><c>DELETE /api/v1/argocd-endpoints/{id}</c> (seed 003, integration.edit; GitOps feature): soft delete (its
/// mappings stop being used, past observations stay readable). 204.</summary>
public static class DeleteArgoCdEndpoint
{
    public sealed record Command(Guid Id) : ICommand<Unit>;

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator() => RuleFor(command => command.Id).NotEmpty();
    }

    internal sealed class Handler(DbSession db, AuditTrail audit) : IRequestHandler<Command, Unit>
    {
        private const string Delete = """
            UPDATE access.argocd_endpoints SET deleted_at = now(), enabled = false, updated_at = now()
            WHERE id = @Id AND deleted_at IS NULL RETURNING name
            """;

        public async Task<Unit> Handle(Command command, CancellationToken cancellationToken)
        {
            var name = await db.QuerySingleOrDefaultAsync<string>(Delete, new { command.Id }, cancellationToken)
                ?? throw new NotFoundException("argocd endpoint not found");
            audit.Record("argocd_endpoint.delete", "argocd_endpoint", command.Id.ToString(), name);
            return Unit.Value;
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapDelete("/api/v1/argocd-endpoints/{id}", async (Guid id, IMediator mediator, CancellationToken cancellationToken) =>
                {
                    await mediator.Send(new Command(id), cancellationToken);
                    return TypedResults.NoContent();
                })
                .RequireFeature(AccessRoutes.GitOpsFeature)
                .RequirePermission(Permissions.IntegrationEdit)
                .WithName(nameof(DeleteArgoCdEndpoint))
                .WithTags(AccessRoutes.GitOps)
                .WithSummary("Delete an ArgoCD endpoint")
                .ProducesErrors(400, 401, 403, 404);
    }
}

using System.Text.Json.Serialization;
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

/// <summary><c>PUT /api/v1/argocd-endpoints/{id}/enabled</c> (seed 003, integration.edit; GitOps feature)
/// <c>{enabled}</c>: 204.</summary>
public static class SetArgoCdEndpointEnabled
{
    public sealed record Command(Guid Id, bool? Enabled) : ICommand<Unit>;

    public sealed record Body([property: JsonPropertyName("enabled")] bool? Enabled);

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator() => RuleFor(command => command.Enabled).NotNull().WithMessage("enabled is required").OverridePropertyName("enabled");
    }

    internal sealed class Handler(DbSession db, AuditTrail audit) : IRequestHandler<Command, Unit>
    {
        private const string Update = """
            UPDATE access.argocd_endpoints SET enabled = @Enabled, updated_at = now() WHERE id = @Id AND deleted_at IS NULL RETURNING name
            """;

        public async Task<Unit> Handle(Command command, CancellationToken cancellationToken)
        {
            var name = await db.QuerySingleOrDefaultAsync<string>(Update, new { command.Id, command.Enabled }, cancellationToken)
                ?? throw new NotFoundException("argocd endpoint not found");
            audit.Record("argocd_endpoint.set_enabled", "argocd_endpoint", command.Id.ToString(), name, new { command.Enabled });
            return Unit.Value;
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPut("/api/v1/argocd-endpoints/{id}/enabled", async (Guid id, Body body, IMediator mediator, CancellationToken cancellationToken) =>
                {
                    await mediator.Send(new Command(id, body.Enabled), cancellationToken);
                    return TypedResults.NoContent();
                })
                .RequireFeature(AccessRoutes.GitOpsFeature)
                .RequirePermission(Permissions.IntegrationEdit)
                .WithName(nameof(SetArgoCdEndpointEnabled))
                .WithTags(AccessRoutes.GitOps)
                .WithSummary("Enable or disable an ArgoCD endpoint")
                .ProducesErrors(400, 401, 403, 404);
    }
}

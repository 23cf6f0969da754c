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

namespace Capstan.Features.Access.Agents;

/// <summary><c>POST /api/v1/agents/{id}/revoke</c> (seed 003) <c>{reason?}</c>: the agent is revoked for good — its
/// secret stops working at once and the jobs it held go back to the queue. 204; revoking again is a 204 too.</summary>
public static class RevokeAgent
{
    public sealed record Command(Guid Id, string? Reason) : ICommand<Unit>;

    public sealed record Body([property: JsonPropertyName("reason")] string? Reason);

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator() => RuleFor(command => command.Reason).MaximumLength(1000).OverridePropertyName("reason");
    }

    internal sealed class Handler(DbSession db, RequestContext request, AuditTrail audit) : IRequestHandler<Command, Unit>
    {
        private const string Revoke = """
            UPDATE access.agents SET status = 'revoked', revoked_at = COALESCE(revoked_at, now()), revoked_by = COALESCE(revoked_by, @By), updated_at = now()
            WHERE id = @Id
            RETURNING name
            """;

        private const string Release = """
            UPDATE access.jobs SET status = 'queued', claimed_by = NULL, claimed_at = NULL, claim_expires_at = NULL, updated_at = now()
            WHERE claimed_by = @Id AND status = 'claimed'
            """;

        public async Task<Unit> Handle(Command command, CancellationToken cancellationToken)
        {
            var name = await db.QuerySingleOrDefaultAsync<string>(Revoke, new { command.Id, By = request.RequiredCaller.UserId }, cancellationToken)
                ?? throw new NotFoundException("agent not found");
            var released = await db.ExecuteAsync(Release, new { command.Id }, cancellationToken);
            audit.Record("agent.revoke", "agent", command.Id.ToString(), name, new { reason = command.Reason, released_jobs = released });
            return Unit.Value;
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/api/v1/agents/{id}/revoke", async (Guid id, Body? body, IMediator mediator, CancellationToken cancellationToken) =>
                {
                    await mediator.Send(new Command(id, body?.Reason), cancellationToken);
                    return TypedResults.NoContent();
                })
                .RequirePermission(Permissions.AgentRevoke)
                .WithName(nameof(RevokeAgent))
                .WithTags(AccessRoutes.Agents)
                .WithSummary("Revoke an agent")
                .ProducesErrors(400, 401, 403, 404);
    }
}

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

namespace Capstan.Features.Fleet.Security;

/// <summary><c>POST /api/v1/security/secrets/{id}/rotate</c> (seed 004): records that the secret was rotated now →
/// <c>{id, secretName, lastRotated, nextRotation (now + rotation days), isOverdue: false}</c>; 404 when unknown or on an
/// unseen instance.</summary>
public static class RotateSecretRecord
{
    public sealed record Command(Guid Id) : ICommand<Response>;

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator() => RuleFor(command => command.Id).NotEmpty();
    }

    public sealed record Response(Guid Id, string SecretName, DateTime LastRotated, DateTime NextRotation, bool IsOverdue);

    internal sealed class Handler(DbSession db, RequestContext request, AuditTrail audit, TimeProvider clock) : IRequestHandler<Command, Response>
    {
        private const string Rotate = $"""
            UPDATE fleet.secret_rotations r
            SET last_rotated = @Now, next_rotation = @Now + make_interval(days => r.rotation_days::int), is_overdue = false, updated_at = @Now
            FROM fleet.instances i
            WHERE r.id = @Id AND i.id = r.instance_id AND {FleetVisibility.Predicate}
            RETURNING r.id, r.secret_name, r.last_rotated, r.next_rotation
            """;

        public async Task<Response> Handle(Command command, CancellationToken cancellationToken)
        {
            var scope = FleetVisibility.Of(request.RequiredCaller);
            var row = await db.QuerySingleOrDefaultAsync<Row>(
                    Rotate, new { command.Id, Now = clock.GetUtcNow().UtcDateTime, scope.SeesAllTeams, scope.TeamIds }, cancellationToken)
                ?? throw new NotFoundException($"Secret rotation record '{command.Id}' not found");
            audit.Record("security.secret_rotation.rotate", "secret_rotation", command.Id.ToString(), row.SecretName);
            return new Response(row.Id, row.SecretName, row.LastRotated, row.NextRotation, false);
        }

        private sealed record Row(Guid Id, string SecretName, DateTime LastRotated, DateTime NextRotation);
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/api/v1/security/secrets/{id}/rotate", async (Guid id, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Command(id), cancellationToken)))
                .RequirePermission(Permissions.SecurityManage)
                .WithName(nameof(RotateSecretRecord))
                .WithTags(FleetRoutes.SecretRotations)
                .WithSummary("Mark a secret as rotated")
                .ProducesErrors(400, 401, 403, 404);
    }
}

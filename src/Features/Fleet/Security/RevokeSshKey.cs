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

/// <summary><c>POST /api/v1/security/ssh-keys/{id}/revoke</c> (seed 004): marks the key REVOKED (who and when) →
/// <c>{id, fingerprint, status: "REVOKED", revokedAt}</c>; revoking a revoked key is a 409; unknown or unseen: 404.</summary>
public static class RevokeSshKey
{
    public sealed record Command(Guid Id) : ICommand<Response>;

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator() => RuleFor(command => command.Id).NotEmpty();
    }

    public sealed record Response(Guid Id, string Fingerprint, string Status, DateTime RevokedAt);

    internal sealed class Handler(DbSession db, RequestContext request, AuditTrail audit, TimeProvider clock) : IRequestHandler<Command, Response>
    {
        private const string Current = $"""
            SELECT k.status, k.fingerprint FROM fleet.ssh_keys k JOIN fleet.instances i ON i.id = k.instance_id
            WHERE k.id = @Id AND {FleetVisibility.Predicate}
            FOR UPDATE OF k
            """;

        private const string Revoke = "UPDATE fleet.ssh_keys SET status = 'REVOKED', revoked_at = @Now, revoked_by = @UserId, updated_at = @Now WHERE id = @Id";

        public async Task<Response> Handle(Command command, CancellationToken cancellationToken)
        {
            var caller = request.RequiredCaller;
            var scope = FleetVisibility.Of(caller);
            var key = await db.QuerySingleOrDefaultAsync<Row>(Current, new { command.Id, scope.SeesAllTeams, scope.TeamIds }, cancellationToken)
                ?? throw new NotFoundException($"SSH key '{command.Id}' not found");
            if (key.Status == "REVOKED")
            {
                throw new ConflictException("SSH key is already revoked");
            }

            var now = clock.GetUtcNow().UtcDateTime;
            await db.ExecuteAsync(Revoke, new { command.Id, Now = now, caller.UserId }, cancellationToken);
            audit.Record("security.ssh_key.revoke", "ssh_key", command.Id.ToString(), key.Fingerprint, new { from = key.Status });
            return new Response(command.Id, key.Fingerprint, "REVOKED", now);
        }

        private sealed record Row(string Status, string Fingerprint);
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/api/v1/security/ssh-keys/{id}/revoke", async (Guid id, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Command(id), cancellationToken)))
                .RequirePermission(Permissions.SecurityManage)
                .WithName(nameof(RevokeSshKey))
                .WithTags(FleetRoutes.SshKeys)
                .WithSummary("Revoke an SSH key")
                .ProducesErrors(400, 401, 403, 404, 409);
    }
}

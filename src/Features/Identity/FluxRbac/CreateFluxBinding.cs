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

namespace Capstan.Features.Identity;

/// <summary><c>POST /api/v1/rbac/bindings</c> (seed 001): <c>{userId, policyId, cluster?}</c> binds a policy to a user,
/// on one registered cluster (id or name) or on all (omitted, empty or <c>*</c>). 201 with the binding; 404 unknown
/// user, policy or cluster; 409 when already bound, or when the policy's role is above the user's (it could never
/// apply).</summary>
public static class CreateFluxBinding
{
    public sealed record Command(string? UserId, string? PolicyId, string? Cluster) : ICommand<Response>;

    public sealed record Response(Guid Id, Guid UserId, Guid PolicyId, string Cluster, string? ClusterName, DateTime CreatedAt);

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator()
        {
            RuleFor(command => command.UserId).NotEmpty().Must(id => Guid.TryParse(id, out _)).WithMessage("userId must be a UUID");
            RuleFor(command => command.PolicyId).NotEmpty().Must(id => Guid.TryParse(id, out _)).WithMessage("policyId must be a UUID");
            RuleFor(command => command.Cluster).MaximumLength(100);
        }
    }

    internal sealed class Handler(DbSession db, AuditTrail audit, RequestContext request, TimeProvider clock) : IRequestHandler<Command, Response>
    {
        private const string User = "SELECT username AS name, role FROM identity.users WHERE id = @Id";

        private const string Policy = "SELECT name, role FROM identity.flux_policies WHERE id = @Id";

        private const string FindCluster = """
            SELECT id, name FROM clusters.clusters WHERE id = @Id OR lower(name) = lower(@Name) ORDER BY (id = @Id) DESC NULLS LAST LIMIT 1
            """;

        private const string Insert = """
            INSERT INTO identity.flux_bindings (id, user_id, policy_id, cluster, created_by, created_at)
            VALUES (@Id, @UserId, @PolicyId, @Cluster, @By, @Now)
            ON CONFLICT (user_id, policy_id, cluster) DO NOTHING
            """;

        public async Task<Response> Handle(Command command, CancellationToken cancellationToken)
        {
            var userId = Guid.Parse(command.UserId!);
            var policyId = Guid.Parse(command.PolicyId!);
            var user = await db.QuerySingleOrDefaultAsync<Named>(User, new { Id = userId }, cancellationToken) ?? throw new NotFoundException("User not found");
            var policy = await db.QuerySingleOrDefaultAsync<Named>(Policy, new { Id = policyId }, cancellationToken) ?? throw new NotFoundException("Policy not found");
            if (BaseRoles.Parse(policy.Role) > BaseRoles.Parse(user.Role))
            {
                throw new ConflictException($"The policy applies to {policy.Role}s and above; {user.Name} is a {user.Role}");
            }

            string cluster = string.Empty;
            string? clusterName = null;
            if (command.Cluster?.Trim() is { Length: > 0 } requested && requested != "*")
            {
                var found = await db.QuerySingleOrDefaultAsync<ClusterRow>(FindCluster, new { Id = Guid.TryParse(requested, out var parsed) ? parsed : (Guid?)null, Name = requested }, cancellationToken)
                    ?? throw new NotFoundException($"Cluster '{requested}' not found");
                (cluster, clusterName) = (found.Id.ToString(), found.Name);
            }

            var id = Guid.CreateVersion7();
            var now = clock.GetUtcNow().UtcDateTime;
            if (await db.ExecuteAsync(Insert, new { Id = id, UserId = userId, PolicyId = policyId, Cluster = cluster, By = request.RequiredCaller.UserId, Now = now }, cancellationToken) == 0)
            {
                throw new ConflictException($"'{policy.Name}' is already bound to {user.Name}{(clusterName is null ? string.Empty : $" on {clusterName}")}");
            }

            audit.Record("rbac.binding.create", "flux_binding", id.ToString(), policy.Name, new { user_id = userId, policy_id = policyId, cluster });
            return new Response(id, userId, policyId, cluster, clusterName, now);
        }

        private sealed record Named(string Name, string Role);

        private sealed record ClusterRow(Guid Id, string Name);
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/api/v1/rbac/bindings", async (Command command, IMediator mediator, CancellationToken cancellationToken) =>
                {
                    var binding = await mediator.Send(command, cancellationToken);
                    return TypedResults.Created($"/api/v1/rbac/bindings/{binding.Id}", binding);
                })
                .RequirePermission(Permissions.FluxRbacEdit)
                .WithName(nameof(CreateFluxBinding))
                .WithTags(FluxPolicyShapes.Tag)
                .WithSummary("Bind a Flux RBAC policy to a user")
                .ProducesErrors(400, 401, 403, 404, 409);
    }
}

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

namespace Capstan.Features.Fleet.Extensions;

/// <summary><c>POST /api/v1/extensions/policies</c> (seed 004, OPERATOR): <c>{extension_id, instance_id? | team_id?,
/// policy: AUTO_UPDATE|PIN|FREEZE, pinned_version?}</c> sets the policy of one scope (global when neither id is given):
/// 201 when new, 200 when the scope's policy is replaced — re-setting never makes a second row. <c>pinned_version</c> is
/// required for PIN and dropped otherwise. Unknown extension or instance (or a team or instance the caller cannot see) is
/// a 404.</summary>
public static class SetExtensionPolicy
{
    public sealed record Command(
        [property: JsonPropertyName("extension_id")] Guid? ExtensionId,
        [property: JsonPropertyName("instance_id")] Guid? InstanceId,
        [property: JsonPropertyName("team_id")] Guid? TeamId,
        [property: JsonPropertyName("policy")] string? Policy,
        [property: JsonPropertyName("pinned_version")] string? PinnedVersion) : ICommand<Result>;

    public sealed record Result(PolicyView Policy, bool Created);

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator()
        {
            RuleFor(command => command.ExtensionId).NotEmpty().OverridePropertyName("extension_id");
            RuleFor(command => command.Policy).Must(policy => FleetVocabulary.IsOneOf(policy, ExtensionRules.Policies)).OverridePropertyName("policy")
                .WithMessage($"policy must be one of: {string.Join(", ", ExtensionRules.Policies)}");
            RuleFor(command => command.PinnedVersion).NotEmpty().When(command => string.Equals(command.Policy?.Trim(), "PIN", StringComparison.OrdinalIgnoreCase))
                .OverridePropertyName("pinned_version").WithMessage("pinned_version is required for a PIN policy");
            RuleFor(command => command.PinnedVersion).Matches(ExtensionRules.VersionPattern).When(command => !string.IsNullOrEmpty(command.PinnedVersion))
                .OverridePropertyName("pinned_version").WithMessage("pinned_version must be semantic (major.minor.patch)");
            RuleFor(command => command.TeamId).Null().When(command => command.InstanceId is not null).OverridePropertyName("team_id")
                .WithMessage("a policy applies to an instance or a team, not both");
        }
    }

    internal sealed class Handler(DbSession db, RequestContext request, AuditTrail audit, TimeProvider clock) : IRequestHandler<Command, Result>
    {
        private const string Instance = $"SELECT i.name FROM fleet.instances i WHERE i.id = @InstanceId AND {FleetVisibility.Predicate}";

        private const string Upsert = """
            INSERT INTO fleet.extension_policies AS p (id, extension_id, team_id, instance_id, policy, pinned_version, created_by, created_at, updated_at)
            VALUES (@Id, @ExtensionId, @TeamId, @InstanceId, @Policy, @PinnedVersion, @CreatedBy, @Now, @Now)
            ON CONFLICT (extension_id, team_id, instance_id) DO UPDATE
                SET policy = EXCLUDED.policy, pinned_version = EXCLUDED.pinned_version, updated_at = EXCLUDED.updated_at
            RETURNING p.id, (p.xmax = 0) AS created
            """;

        private const string Select = $"SELECT {PolicyRow.Columns} FROM fleet.extension_policies p JOIN fleet.extensions e ON e.id = p.extension_id WHERE p.id = @Id";

        public async Task<Result> Handle(Command command, CancellationToken cancellationToken)
        {
            var caller = request.RequiredCaller;
            var scope = FleetVisibility.Of(caller);
            var extension = await db.ExecuteScalarAsync<string>("SELECT name FROM fleet.extensions WHERE id = @ExtensionId", new { command.ExtensionId }, cancellationToken)
                ?? throw new NotFoundException($"Extension '{command.ExtensionId}' not found");
            if (command.InstanceId is not null
                && await db.ExecuteScalarAsync<string>(Instance, new { command.InstanceId, scope.SeesAllTeams, scope.TeamIds }, cancellationToken) is null)
            {
                throw new NotFoundException($"Instance '{command.InstanceId}' not found");
            }

            if (command.TeamId is { } team && !scope.CanSee(team))
            {
                throw new NotFoundException($"Team '{team}' not found");
            }

            var policy = command.Policy!.Trim().ToUpperInvariant();
            var upserted = await db.QuerySingleAsync<Upserted>(
                Upsert,
                new
                {
                    Id = Guid.CreateVersion7(),
                    command.ExtensionId,
                    command.TeamId,
                    command.InstanceId,
                    Policy = policy,
                    PinnedVersion = policy == "PIN" ? command.PinnedVersion!.Trim() : null,
                    CreatedBy = caller.UserId,
                    Now = clock.GetUtcNow().UtcDateTime,
                },
                cancellationToken);
            audit.Record("extension_policy.set", "extension_policy", upserted.Id.ToString(), extension, new
            {
                extension_id = command.ExtensionId,
                instance_id = command.InstanceId,
                team_id = command.TeamId,
                policy,
                pinned_version = policy == "PIN" ? command.PinnedVersion : null,
            });
            var view = (await db.QuerySingleAsync<PolicyRow>(Select, new { upserted.Id }, cancellationToken)).ToView();
            return new Result(view, upserted.Created);
        }

        private sealed record Upserted(Guid Id, bool Created);
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/api/v1/extensions/policies", async (Command command, IMediator mediator, CancellationToken cancellationToken) =>
                {
                    var result = await mediator.Send(command, cancellationToken);
                    return result.Created ? Results.Created($"/api/v1/extensions/policies/{result.Policy.Id}", result.Policy) : Results.Ok(result.Policy);
                })
                .RequirePermission(Permissions.ExtensionPolicyEdit)
                .WithName(nameof(SetExtensionPolicy))
                .WithTags(FleetRoutes.ExtensionPolicies)
                .WithSummary("Set (upsert) an extension policy for the fleet, a team or an instance")
                .Produces<PolicyView>(201)
                .Produces<PolicyView>(200)
                .ProducesErrors(400, 401, 403, 404);
    }
}

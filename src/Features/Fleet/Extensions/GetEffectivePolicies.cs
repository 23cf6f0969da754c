using System.Text.Json.Serialization;
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

/// <summary><c>GET /api/v1/extensions/policies/effective/{instanceId}</c> (seed 004): the policy that applies to each
/// extension on the instance. Precedence global → team → instance: the instance's own policy wins, else the policy of
/// the instance's team, else the global one; extensions with no policy at any level are absent. Each entry says which
/// level it came from (<c>source</c>) and which policy row (<c>policy_id</c>). 404 for an unknown or unseen instance.</summary>
public static class GetEffectivePolicies
{
    public sealed record Query(Guid InstanceId) : IQuery<Response>;

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator() => RuleFor(query => query.InstanceId).NotEmpty();
    }

    public sealed record Response(
        [property: JsonPropertyName("instance_id")] Guid InstanceId,
        [property: JsonPropertyName("team_id")] Guid? TeamId,
        [property: JsonPropertyName("policies")] IReadOnlyDictionary<Guid, Effective> Policies);

    public sealed record Effective(
        [property: JsonPropertyName("extension_name")] string ExtensionName,
        [property: JsonPropertyName("policy")] string Policy,
        [property: JsonPropertyName("pinned_version")] string? PinnedVersion,
        [property: JsonPropertyName("source")] string Source,
        [property: JsonPropertyName("policy_id")] Guid PolicyId);

    internal sealed class Handler(DbSession db, RequestContext request) : IRequestHandler<Query, Response>
    {
        private const string Instance = $"SELECT i.id, i.team_id FROM fleet.instances i WHERE i.id = @InstanceId AND {FleetVisibility.Predicate}";

        private const string Candidates = """
            SELECT p.id, p.extension_id, e.name AS extension_name, p.team_id, p.instance_id, p.policy, p.pinned_version
            FROM fleet.extension_policies p JOIN fleet.extensions e ON e.id = p.extension_id
            WHERE p.instance_id = @InstanceId
               OR (p.instance_id IS NULL AND p.team_id IS NOT NULL AND p.team_id = @TeamId)
               OR (p.instance_id IS NULL AND p.team_id IS NULL)
            """;

        public async Task<Response> Handle(Query query, CancellationToken cancellationToken)
        {
            var scope = FleetVisibility.Of(request.RequiredCaller);
            var instance = await db.QuerySingleOrDefaultAsync<InstanceRow>(Instance, new { query.InstanceId, scope.SeesAllTeams, scope.TeamIds }, cancellationToken)
                ?? throw new NotFoundException($"Instance '{query.InstanceId}' not found");
            var candidates = await db.QueryAsync<Candidate>(Candidates, new { query.InstanceId, instance.TeamId }, cancellationToken);
            return new Response(query.InstanceId, instance.TeamId, Resolve(candidates));
        }

        /// <summary>Per extension, the most specific candidate: instance (rank 2) over team (1) over global (0).</summary>
        internal static Dictionary<Guid, Effective> Resolve(IEnumerable<Candidate> candidates) =>
            candidates
                .GroupBy(candidate => candidate.ExtensionId)
                .ToDictionary(
                    group => group.Key,
                    group =>
                    {
                        var winner = group.MaxBy(candidate => candidate.Rank)!;
                        return new Effective(winner.ExtensionName, winner.Policy, winner.PinnedVersion, winner.Source, winner.Id);
                    });

        private sealed record InstanceRow(Guid Id, Guid? TeamId);
    }

    internal sealed record Candidate(Guid Id, Guid ExtensionId, string ExtensionName, Guid? TeamId, Guid? InstanceId, string Policy, string? PinnedVersion)
    {
        public int Rank => InstanceId is not null ? 2 : TeamId is not null ? 1 : 0;

        public string Source => Rank switch { 2 => "instance", 1 => "team", _ => "global" };
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/extensions/policies/effective/{instanceId}", async (Guid instanceId, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(instanceId), cancellationToken)))
                .RequirePermission(Permissions.FleetRead)
                .WithName(nameof(GetEffectivePolicies))
                .WithTags(FleetRoutes.ExtensionPolicies)
                .WithSummary("Effective extension policies for an instance (global → team → instance)")
                .ProducesErrors(400, 401, 403, 404);
    }
}

using System.Text.Json;
using System.Text.Json.Nodes;
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

/// <summary><c>GET /api/v1/extensions/{id}</c> (seed 004): the extension with its install count, its ten most recent
/// active installs on instances the caller can see (<c>usages</c>), and its policies; 404 when unknown.</summary>
public static class GetExtension
{
    public sealed record Query(Guid Id) : IQuery<JsonObject>;

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator() => RuleFor(query => query.Id).NotEmpty();
    }

    public sealed record Usage(
        [property: JsonPropertyName("instance_id")] Guid InstanceId,
        [property: JsonPropertyName("instance_name")] string InstanceName,
        [property: JsonPropertyName("version")] string Version,
        [property: JsonPropertyName("installed_at")] DateTime InstalledAt);

    public sealed record Policy(
        [property: JsonPropertyName("id")] Guid Id,
        [property: JsonPropertyName("team_id")] Guid? TeamId,
        [property: JsonPropertyName("instance_id")] Guid? InstanceId,
        [property: JsonPropertyName("policy")] string PolicyName,
        [property: JsonPropertyName("pinned_version")] string? PinnedVersion);

    internal sealed class Handler(DbSession db, RequestContext request) : IRequestHandler<Query, JsonObject>
    {
        private const string Select = $"SELECT {ExtensionRow.Columns} FROM fleet.extensions e WHERE e.id = @Id";

        private const string Usages = $"""
            SELECT u.instance_id, i.name AS instance_name, u.version, u.installed_at
            FROM fleet.extension_usages u JOIN fleet.instances i ON i.id = u.instance_id
            WHERE u.extension_id = @Id AND u.removed_at IS NULL AND NOT u.failed AND {FleetVisibility.Predicate}
            ORDER BY u.installed_at DESC, u.id DESC
            LIMIT 10
            """;

        private const string Policies = """
            SELECT id, team_id, instance_id, policy AS policy_name, pinned_version
            FROM fleet.extension_policies WHERE extension_id = @Id
            ORDER BY (instance_id IS NOT NULL), (team_id IS NOT NULL), created_at
            """;

        public async Task<JsonObject> Handle(Query query, CancellationToken cancellationToken)
        {
            var row = await db.QuerySingleOrDefaultAsync<ExtensionRow>(Select, new { query.Id }, cancellationToken)
                ?? throw new NotFoundException($"Extension '{query.Id}' not found");
            var scope = FleetVisibility.Of(request.RequiredCaller);
            var usages = await db.QueryAsync<Usage>(Usages, new { query.Id, scope.SeesAllTeams, scope.TeamIds }, cancellationToken);
            var policies = await db.QueryAsync<Policy>(Policies, new { query.Id }, cancellationToken);
            // The upstream's shape: the extension's own fields with usages and policies beside them.
            var detail = JsonSerializer.SerializeToNode(row.ToView())!.AsObject();
            detail["usages"] = JsonSerializer.SerializeToNode(usages);
            detail["policies"] = JsonSerializer.SerializeToNode(policies);
            return detail;
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/extensions/{id}", async (Guid id, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(id), cancellationToken)))
                .RequirePermission(Permissions.FleetRead)
                .WithName(nameof(GetExtension))
                .WithTags(FleetRoutes.Extensions)
                .WithSummary("Extension detail with active installs and policies")
                .ProducesErrors(400, 401, 403, 404);
    }
}

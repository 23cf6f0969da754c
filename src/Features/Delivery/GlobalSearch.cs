using System.Text.Json.Serialization;
using Capstan.Infrastructure.Clusters;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Http;
using Capstan.Infrastructure.Mediation;
using Capstan.Infrastructure.Routing;
using Capstan.Infrastructure.Security;
using FluentValidation;
using MediatR;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Capstan.Features.Delivery;

/// <summary><c>GET /v1/api/search?q=</c> (seed 002, reference §12): up to five each of the caller's workflows (name,
/// description), tracked resources (name, namespace) and the clusters they can use (name, display name), matching
/// <c>q</c> case-insensitively as plain text (the upstream ran it as an unescaped regex). Under three characters every
/// list is empty.</summary>
public static class GlobalSearch
{
    public sealed record Query(string? Q) : IQuery<Response>;

    public sealed record WorkflowHit(
        [property: JsonPropertyName("id")] Guid Id,
        [property: JsonPropertyName("name")] string Name,
        [property: JsonPropertyName("description")] string Description,
        [property: JsonPropertyName("status")] string Status);

    public sealed record ResourceHit(Guid Id, string Name, string Namespace, string Type, string ClusterName);

    public sealed record ClusterHit(string Name, string DisplayName, string Status);

    public sealed record Response(IReadOnlyList<WorkflowHit> Workflows, IReadOnlyList<ResourceHit> Resources, IReadOnlyList<ClusterHit> Clusters);

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator() => RuleFor(query => query.Q).MaximumLength(100);
    }

    internal sealed class Handler(DbSession db, RequestContext request) : IRequestHandler<Query, Response>
    {
        public async Task<Response> Handle(Query query, CancellationToken cancellationToken)
        {
            var text = query.Q?.Trim() ?? string.Empty;
            if (text.Length < 3)
            {
                return new Response([], [], []);
            }

            var caller = request.RequiredCaller;
            var parameters = new { Pattern = Like.Contains(text), caller.UserId, Manage = caller.Has(Permissions.ClusterManage) };
            var workflows = await db.QueryAsync<WorkflowHit>(
                """
                SELECT id, name, description, status FROM delivery.workflows
                WHERE owner_id = @UserId AND deleted_at IS NULL AND (name ILIKE @Pattern OR description ILIKE @Pattern)
                ORDER BY updated_at DESC, id LIMIT 5
                """,
                parameters,
                cancellationToken);
            var resources = await db.QueryAsync<ResourceHit>(
                """
                SELECT id, name, namespace, kind AS type, cluster_name FROM delivery.resources
                WHERE user_id = @UserId AND deleted_at IS NULL AND (name ILIKE @Pattern OR namespace ILIKE @Pattern)
                ORDER BY name, id LIMIT 5
                """,
                parameters,
                cancellationToken);
            var clusters = await db.QueryAsync<ClusterHit>(
                $"""
                SELECT c.name, c.display_name, c.status FROM clusters.clusters c
                WHERE {ClusterDirectory.Visible} AND (c.name ILIKE @Pattern OR c.display_name ILIKE @Pattern)
                ORDER BY c.name LIMIT 5
                """,
                parameters,
                cancellationToken);
            return new Response(workflows, resources, clusters);
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/v1/api/search", async (string? q, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(q), cancellationToken)))
                .RequirePermission(Permissions.DeliveryRead)
                .WithName("Delivery" + nameof(GlobalSearch))
                .WithTags(DeliveryRoutes.Dashboard)
                .WithSummary("Global search across entities")
                .ProducesErrors(400, 401, 403);
    }
}

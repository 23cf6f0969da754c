using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Delivery;
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

namespace Capstan.Features.Delivery.Resources;

/// <summary><c>GET /v1/api/resources/{id}/pods</c> (seed 002, reference §10): the tracked children of a workload —
/// pods of a Deployment, StatefulSet or DaemonSet (owned by it, through a ReplicaSet for deployments, or labelled
/// <c>app=&lt;name&gt;</c>), pods of a Job (<c>job-name</c>), jobs of a CronJob (under <c>jobs</c>). Other kinds are a
/// 400 <c>Resource type does not have child resources</c>. Answers <c>{parent, pods|jobs, count}</c>.</summary>
public static class ListResourcePods
{
    public sealed record Query(Guid Id) : IQuery<Response>;

    public sealed record Response
    {
        public ResourceView Parent { get; init; } = new();

        [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
        public IReadOnlyList<ResourceView>? Pods { get; init; }

        [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
        public IReadOnlyList<ResourceView>? Jobs { get; init; }

        public int Count { get; init; }
    }

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator() => RuleFor(query => query.Id).NotEmpty();
    }

    internal sealed class Handler(DbSession db, RequestContext request) : IRequestHandler<Query, Response>
    {
        public async Task<Response> Handle(Query query, CancellationToken cancellationToken)
        {
            var parent = await TrackedResources.GetOwnedAsync(db, query.Id, request.RequiredCaller.UserId, cancellationToken);
            var childKind = parent.Kind switch
            {
                "Deployment" or "StatefulSet" or "DaemonSet" or "Job" => "Pod",
                "CronJob" => "Job",
                _ => throw new BadRequestException("Resource type does not have child resources"),
            };
            var candidates = await db.QueryAsync<ResourceRow>(
                $"""
                SELECT {TrackedResources.Columns} FROM delivery.resources r
                WHERE r.user_id = @UserId AND r.cluster_name = @Cluster AND r.namespace = @Namespace AND r.kind = @Kind AND r.deleted_at IS NULL
                ORDER BY r.name
                """,
                new { parent.UserId, Cluster = parent.ClusterName, parent.Namespace, Kind = childKind },
                cancellationToken);
            var children = candidates.Where(child => BelongsTo(parent, child)).Select(TrackedResources.View).ToList();
            return childKind == "Job"
                ? new Response { Parent = TrackedResources.View(parent), Jobs = children, Count = children.Count }
                : new Response { Parent = TrackedResources.View(parent), Pods = children, Count = children.Count };
        }

        private static bool BelongsTo(ResourceRow parent, ResourceRow child)
        {
            var labels = JsonNode.Parse(child.Labels) as JsonObject ?? [];
            var owners = (JsonNode.Parse(child.OwnerReferences) as JsonArray ?? []).OfType<JsonObject>().ToList();
            bool OwnedBy(string kind, Func<string, bool> name) => owners.Any(owner => NodeData.Text(owner["kind"]) == kind && NodeData.Text(owner["name"]) is { } ownerName && name(ownerName));
            return parent.Kind switch
            {
                "Job" => NodeData.Text(labels["job-name"]) == parent.Name || OwnedBy("Job", name => name == parent.Name),
                "CronJob" => OwnedBy("CronJob", name => name == parent.Name),
                "Deployment" => OwnedBy("ReplicaSet", name => name.StartsWith(parent.Name + "-", StringComparison.Ordinal))
                    || NodeData.Text(labels["app"]) == parent.Name || (owners.Count == 0 && child.Name.StartsWith(parent.Name + "-", StringComparison.Ordinal)),
                _ => OwnedBy(parent.Kind, name => name == parent.Name) || NodeData.Text(labels["app"]) == parent.Name,
            };
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/v1/api/resources/{id}/pods", async (Guid id, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(id), cancellationToken)))
                .RequirePermission(Permissions.DeliveryRead)
                .WithName("Delivery" + nameof(ListResourcePods))
                .WithTags(DeliveryRoutes.Resources)
                .WithSummary("Get pods for a deployment")
                .ProducesErrors(400, 401, 403, 404);
    }
}

using System.Text.Json.Nodes;
using Capstan.Infrastructure.Background;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Delivery;
using Capstan.Infrastructure.Http;
using Capstan.Infrastructure.Mediation;
using Capstan.Infrastructure.Paging;
using Capstan.Infrastructure.Routing;
using Capstan.Infrastructure.Security;
using FluentValidation;
using MediatR;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Capstan.Features.Delivery.Resources;

/// <summary>
/// <c>GET /v1/api/resources</c> (seed 002, reference §10): the caller's tracked resources (deleted ones left out),
/// filtered by <c>cluster</c>, <c>namespace</c>, <c>type</c> (a Kind; <c>all</c> for every kind), <c>search</c> (name,
/// namespace) and <c>hideSystem</c> (system namespaces, nodes, <c>kube-root-ca.crt</c>, the <c>kubernetes</c>
/// service); paged by <c>limit</c> (25, at most 100) and <c>offset</c>; sorted by <c>sort_by</c>
/// name|type|namespace|cluster|status|created and <c>sort_order</c> (default created, newest first). Each item has a
/// per-kind <c>summary</c> and its <c>age</c>. <c>sync=true</c> also starts a sync; <c>sync</c> reports the last one.
/// </summary>
public static class ListResources
{
    private static readonly SortWhitelist Sorts = new(
        "created",
        OrderDirection.Descending,
        "r.id",
        ("name", "r.name"),
        ("type", "r.kind"),
        ("namespace", "r.namespace"),
        ("cluster", "r.cluster_name"),
        ("status", "r.status"),
        ("created", "COALESCE(r.created_at, r.first_discovered_at)"));

    private static readonly string[] SystemNamespaces =
        ["kube-system", "kube-public", "kube-node-lease", "kube-flannel", "ingress-nginx", "kubernetes-dashboard", "metallb-system", "cert-manager", "monitoring", "istio-system", "linkerd"];

    public sealed record Query(string? Cluster, string? Namespace, string? Type, string? Search, bool HideSystem, PageRequest Page, SortClause Sort) : IQuery<Response>;

    public sealed record Item(Guid Id, string Name, string Namespace, string Type, string ClusterName, string Status, DateTime? CreatedAt, bool IsFavorite, Guid? WorkflowId, JsonObject Summary);

    public sealed record SyncState(string Status, DateTime StartedAt, DateTime? CompletedAt, long Clusters, long Resources, string? Error);

    public sealed record Response(IReadOnlyList<Item> Resources, long Total, int Limit, int Offset, SyncState? Sync);

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator()
        {
            RuleFor(query => query.Cluster).MaximumLength(100);
            RuleFor(query => query.Namespace).MaximumLength(63);
            RuleFor(query => query.Type).MaximumLength(63);
            RuleFor(query => query.Search).MaximumLength(100);
        }
    }

    internal sealed class Handler(DbSession db, RequestContext request, TimeProvider clock) : IRequestHandler<Query, Response>
    {
        private const string Filter = """
            FROM delivery.resources r
            WHERE r.user_id = @UserId AND r.deleted_at IS NULL
              AND (@Cluster::text IS NULL OR r.cluster_name = @Cluster)
              AND (@Namespace::text IS NULL OR r.namespace = @Namespace)
              AND (@Type::text IS NULL OR lower(r.kind) = lower(@Type))
              AND (@Search::text IS NULL OR r.name ILIKE @Search OR r.namespace ILIKE @Search)
              AND (NOT @HideSystem OR (r.namespace <> ALL(@SystemNamespaces) AND r.kind <> 'Node'
                   AND NOT (r.kind = 'ConfigMap' AND r.name = 'kube-root-ca.crt') AND NOT (r.kind = 'Service' AND r.name = 'kubernetes' AND r.namespace = 'default')))
            """;

        public async Task<Response> Handle(Query query, CancellationToken cancellationToken)
        {
            var parameters = new
            {
                request.RequiredCaller.UserId,
                query.Cluster,
                query.Namespace,
                Type = query.Type is null or "all" ? null : query.Type,
                Search = query.Search is { Length: > 0 } search ? Like.Contains(search) : null,
                query.HideSystem,
                SystemNamespaces,
                Limit = query.Page.Size,
                query.Page.Offset,
            };
            var total = await db.ExecuteScalarAsync<long>($"SELECT count(*) {Filter}", parameters, cancellationToken);
            var rows = await db.QueryAsync<ResourceRow>($"SELECT {TrackedResources.Columns} {Filter} ORDER BY {query.Sort.OrderBy} LIMIT @Limit OFFSET @Offset", parameters, cancellationToken);
            var now = clock.GetUtcNow();
            var sync = await db.QuerySingleOrDefaultAsync<SyncState>(
                "SELECT status, started_at, completed_at, clusters, resources, error FROM delivery.resource_syncs WHERE user_id = @UserId",
                parameters,
                cancellationToken);
            return new Response(
                [.. rows.Select(row => new Item(
                    row.Id, row.Name, row.Namespace, row.Kind, row.ClusterName, row.Status, row.CreatedAt, row.IsFavorite, row.WorkflowId,
                    ObjectStatus.Summary(row.Kind, JsonNode.Parse(row.Spec) as JsonObject ?? [], JsonNode.Parse(row.State) as JsonObject ?? [], row.CreatedAt, now)))],
                total,
                query.Page.Size,
                query.Page.Offset,
                sync);
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/v1/api/resources", async (
                    string? cluster,
                    string? @namespace,
                    string? type,
                    string? search,
                    bool? hideSystem,
                    bool? sync,
                    int? limit,
                    int? offset,
                    [FromQuery(Name = "sort_by")] string? sortBy,
                    [FromQuery(Name = "sort_order")] string? sortOrder,
                    IMediator mediator,
                    RequestContext request,
                    IServiceProvider services,
                    CancellationToken cancellationToken) =>
                {
                    var paging = new PagingQuery { Limit = limit, Offset = offset ?? 0, SortBy = sortBy, SortOrder = sortOrder };
                    var query = new Query(Blank(cluster), Blank(@namespace), Blank(type), Blank(search), hideSystem == true, paging.ToPage(defaultSize: 25, maxSize: 100), paging.ToSort(Sorts));
                    if (sync == true)
                    {
                        var caller = request.RequiredCaller;
                        await using var scope = services.CreateAsyncScope();
                        if (await ResourceSync.TryBeginAsync(scope.ServiceProvider.GetRequiredService<DbSession>(), caller.UserId, cancellationToken))
                        {
                            _ = BackgroundWork.Start(services, "resource sync", (inner, token) => ResourceSync.RunAsync(inner, caller.UserId, caller.Has(Permissions.ClusterManage), token));
                        }
                    }

                    return TypedResults.Ok(await mediator.Send(query, cancellationToken));
                })
                .RequirePermission(Permissions.DeliveryRead)
                .WithName("Delivery" + nameof(ListResources))
                .WithTags(DeliveryRoutes.Resources)
                .WithSummary("List tracked Kubernetes resources")
                .ProducesErrors(400, 401, 403);

        private static string? Blank(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();
    }
}

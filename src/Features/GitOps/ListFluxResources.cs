using System.Globalization;
using System.Text.Json.Nodes;
using Capstan.Infrastructure.Clusters;
using Capstan.Infrastructure.Flux;
using Capstan.Infrastructure.Http;
using Capstan.Infrastructure.Mediation;
using Capstan.Infrastructure.Routing;
using Capstan.Infrastructure.Security;
using FluentValidation;
using MediatR;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Capstan.Features.GitOps;

/// <summary>
/// <c>GET /api/v1/flux/{resourceType}</c> (seeds 000, 001): the objects of one Flux type (plural or Kind) on the selected
/// cluster, cluster-wide or in <c>?namespace=</c>, optionally by <c>labelSelector</c>; sorted by <c>sortBy</c>
/// (name, namespace, age, status) and <c>sortOrder</c>, paged by <c>limit</c> (1-500) with <c>offset</c> or seed 001's
/// <c>page</c>. Returns Gyre's <c>{items, total, hasMore, offset, limit, metadata}</c> plus seed 001's
/// <c>resources</c> and <c>pagination</c>. Cluster-wide lists need a policy reading every namespace.
/// </summary>
public static class ListFluxResources
{
    private static readonly string[] Sorts = ["name", "namespace", "age", "status"];
    private static readonly Dictionary<string, int> StatusRank = new(StringComparer.Ordinal) { ["failed"] = 0, ["progressing"] = 1, ["suspended"] = 2, ["unknown"] = 3, ["healthy"] = 4 };

    public sealed record Query(
        string ResourceType, string? Namespace, string? LabelSelector, int? Limit, int? Offset, int? Page, string? SortBy, string? SortOrder, string? Cluster, string? ClusterCookie)
        : IQuery<Response>;

    public sealed record Pagination(int Page, int Limit, int Total, int TotalPages);

    public sealed record ListMetadata(string? ResourceVersion);

    public sealed record ClusterRef(Guid Id, string Name);

    public sealed record Response(
        IReadOnlyList<JsonObject> Items,
        IReadOnlyList<JsonObject> Resources,
        int Total,
        bool HasMore,
        int Offset,
        int Limit,
        Pagination Pagination,
        ListMetadata Metadata,
        ClusterRef Cluster);

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator()
        {
            RuleFor(query => query.ResourceType).Must(type => FluxResourceTypes.Resolve(type) is not null).WithMessage(query => $"Invalid resource type: {query.ResourceType}. Valid types: {FluxResourceTypes.ValidTypes}");
            RuleFor(query => query.Namespace).Must(FluxGateway.IsNamespace).When(query => query.Namespace is not null).WithMessage(FluxGateway.NamespaceMessage);
            RuleFor(query => query.Limit).InclusiveBetween(1, 500).When(query => query.Limit is not null);
            RuleFor(query => query.Offset).GreaterThanOrEqualTo(0).When(query => query.Offset is not null);
            RuleFor(query => query.Page).InclusiveBetween(1, 1_000_000).When(query => query.Page is not null);
            RuleFor(query => query.SortBy).Must(sort => Sorts.Contains(sort)).When(query => query.SortBy is not null).WithMessage($"sortBy must be one of: {string.Join(", ", Sorts)}");
            RuleFor(query => query.SortOrder).Must(order => order is "asc" or "desc").When(query => query.SortOrder is not null).WithMessage("sortOrder must be asc or desc");
            RuleFor(query => query.LabelSelector).MaximumLength(1000);
        }
    }

    internal sealed class Handler(FluxGateway gateway) : IRequestHandler<Query, Response>
    {
        public async Task<Response> Handle(Query query, CancellationToken cancellationToken)
        {
            var type = FluxGateway.ResolveType(query.ResourceType);
            var session = await gateway.OpenAsync(query.Cluster, query.ClusterCookie, cancellationToken);
            if (query.Namespace is null)
            {
                session.Access.DemandClusterWideRead(type.Kind, session.Target);
            }
            else
            {
                session.Access.Demand(FluxAction.Read, type.Kind, query.Namespace, session.Target);
            }

            var list = await session.Client.ListAllAsync(type.Resource, query.Namespace, new Infrastructure.Kubernetes.ListOptions { LabelSelector = query.LabelSelector }, cancellationToken);
            var sorted = Sort(list.Items, query.SortBy ?? "name", query.SortOrder == "desc").ToList();
            var total = sorted.Count;
            var limit = query.Limit ?? (query.Page is null ? Math.Max(total, 1) : 20);
            var offset = query.Offset ?? ((query.Page ?? 1) - 1) * limit;
            var page = sorted.Skip(offset).Take(limit).ToList();
            return new Response(
                page,
                page,
                total,
                offset + page.Count < total,
                offset,
                limit,
                new Pagination((offset / limit) + 1, limit, total, (int)Math.Ceiling(total / (double)limit)),
                new ListMetadata(list.ResourceVersion),
                new ClusterRef(session.Cluster.Id, session.Cluster.Name));
        }

        private static IEnumerable<JsonObject> Sort(IReadOnlyList<JsonObject> items, string sortBy, bool descending)
        {
            IOrderedEnumerable<JsonObject> ordered = sortBy switch
            {
                "namespace" => items.OrderBy(item => Metadata(item, "namespace"), StringComparer.Ordinal).ThenBy(item => Metadata(item, "name"), StringComparer.Ordinal),
                "age" => items.OrderBy(item => DateTimeOffset.TryParse(Metadata(item, "creationTimestamp"), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at) ? at : DateTimeOffset.MaxValue),
                "status" => items.OrderBy(item => StatusRank[FluxStatus.Health(item)]),
                _ => items.OrderBy(item => Metadata(item, "name"), StringComparer.Ordinal).ThenBy(item => Metadata(item, "namespace"), StringComparer.Ordinal),
            };
            ordered = ordered.ThenBy(item => Metadata(item, "uid"), StringComparer.Ordinal).ThenBy(item => Metadata(item, "name"), StringComparer.Ordinal);
            return descending ? ordered.Reverse() : ordered;
        }

        private static string Metadata(JsonObject item, string field) => item["metadata"]?[field]?.ToString() ?? string.Empty;
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/flux/{resourceType}", async (
                    string resourceType,
                    string? @namespace,
                    string? labelSelector,
                    int? limit,
                    int? offset,
                    int? page,
                    string? sortBy,
                    string? sortOrder,
                    string? cluster,
                    HttpRequest request,
                    IMediator mediator,
                    CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(
                        new Query(resourceType, @namespace, labelSelector, limit, offset, page, sortBy, sortOrder, cluster, request.Cookies[ClusterDirectory.CookieName]),
                        cancellationToken)))
                .RequirePermission(Permissions.FluxRead)
                .WithName(nameof(ListFluxResources))
                .WithTags(GitOpsRoutes.Resources)
                .WithSummary("List Flux resources of one type")
                .ProducesErrors(400, 401, 403, 404, 503);
    }
}

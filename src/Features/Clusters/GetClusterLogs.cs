using System.Text.Json.Nodes;
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

namespace Capstan.Features.Clusters;

/// <summary><c>GET /v1/api/clusters/{name}/logs?limit=</c> (seed 002): the cluster's connection log, newest first
/// (<c>limit</c> 1-1000, default 100): <c>cluster_added</c>, <c>connection_test</c>, <c>health_check</c> (on a change),
/// <c>credentials_updated</c>, <c>access_granted</c>.</summary>
public static class GetClusterLogs
{
    public sealed record Query(string Name, int Limit) : IQuery<Response>;

    public sealed record Response(string Cluster, IReadOnlyList<LogEntry> Logs);

    public sealed record LogEntry(Guid Id, Guid ClusterId, Guid? UserId, string Action, bool Success, string? Error, JsonObject? Details, DateTime Timestamp);

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator()
        {
            RuleFor(query => query.Name).NotEmpty().MaximumLength(100);
            RuleFor(query => query.Limit).InclusiveBetween(1, 1000);
        }
    }

    internal sealed class Handler(DbSession db, RequestContext request, ClusterDirectory directory) : IRequestHandler<Query, Response>
    {
        private const string Load = """
            SELECT id, cluster_id, user_id, action, success, error, details::text AS details, created_at
            FROM clusters.connection_logs
            WHERE cluster_id = @Id
            ORDER BY created_at DESC, id DESC
            LIMIT @Limit
            """;

        public async Task<Response> Handle(Query query, CancellationToken cancellationToken)
        {
            var cluster = await directory.GetVisibleAsync(query.Name, request.RequiredCaller, cancellationToken);
            var rows = await db.QueryAsync<Row>(Load, new { cluster.Id, query.Limit }, cancellationToken);
            return new Response(cluster.Name, [.. rows.Select(row => new LogEntry(
                row.Id, row.ClusterId, row.UserId, row.Action, row.Success, row.Error,
                JsonNode.Parse(row.Details) is JsonObject { Count: > 0 } details ? details : null, row.CreatedAt))]);
        }

        private sealed record Row(Guid Id, Guid ClusterId, Guid? UserId, string Action, bool Success, string? Error, string Details, DateTime CreatedAt);
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/v1/api/clusters/{name}/logs", async (string name, int? limit, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(name, limit ?? 100), cancellationToken)))
                .RequirePermission(Permissions.ClusterRead)
                .WithName(nameof(GetClusterLogs))
                .WithTags(ClusterRoutes.Registry)
                .WithSummary("Get cluster connection logs (seed 002)")
                .ProducesErrors(400, 401, 403, 404);
    }
}

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

/// <summary><c>GET /v1/api/clusters/{name}/status</c> (seed 002): the last known connection state, without contacting
/// the cluster: <c>{cluster, status, lastCheck, isStale (older than 2 minutes or never), isOnline, lastError}</c>.</summary>
public static class GetClusterStatus
{
    public static readonly TimeSpan StaleAfter = TimeSpan.FromMinutes(2);

    public sealed record Query(string Name) : IQuery<Response>;

    public sealed record Response(string Cluster, string Status, DateTime? LastCheck, bool IsStale, bool IsOnline, string? LastError);

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator() => RuleFor(query => query.Name).NotEmpty().MaximumLength(100);
    }

    internal sealed class Handler(DbSession db, RequestContext request, ClusterDirectory directory, TimeProvider clock) : IRequestHandler<Query, Response>
    {
        private const string Load = "SELECT status, last_check, last_error FROM clusters.clusters WHERE id = @Id";

        public async Task<Response> Handle(Query query, CancellationToken cancellationToken)
        {
            var cluster = await directory.GetVisibleAsync(query.Name, request.RequiredCaller, cancellationToken);
            var row = await db.QuerySingleAsync<Row>(Load, new { cluster.Id }, cancellationToken);
            var stale = row.LastCheck is not { } checkedAt || clock.GetUtcNow().UtcDateTime - checkedAt > StaleAfter;
            return new Response(cluster.Name, row.Status, row.LastCheck, stale, row.Status == "connected", row.LastError);
        }

        private sealed record Row(string Status, DateTime? LastCheck, string? LastError);
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/v1/api/clusters/{name}/status", async (string name, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(name), cancellationToken)))
                .RequirePermission(Permissions.ClusterRead)
                .WithName(nameof(GetClusterStatus))
                .WithTags(ClusterRoutes.Registry)
                .WithSummary("Get cluster status (seed 002)")
                .ProducesErrors(400, 401, 403, 404);
    }
}

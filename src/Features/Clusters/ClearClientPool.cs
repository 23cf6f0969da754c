using Capstan.Infrastructure.Audit;
using Capstan.Infrastructure.Http;
using Capstan.Infrastructure.Kubernetes;
using Capstan.Infrastructure.Mediation;
using Capstan.Infrastructure.Routing;
using Capstan.Infrastructure.Security;
using MediatR;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Capstan.Features.Clusters;

/// <summary><c>POST /api/v1/admin/k8s/clear-client-pool</c> (seed 000): drops this replica's pooled Kubernetes
/// clients (the next request per cluster connects afresh) and resets the pool counters.
/// <c>{message: "Connection pool cleared", cleared}</c>.</summary>
public static class ClearClientPool
{
    public sealed record Command : ICommand<Response>;

    public sealed record Response(string Message, int Cleared);

    internal sealed class Handler(KubernetesClientPool pool, AuditTrail audit) : IRequestHandler<Command, Response>
    {
        public Task<Response> Handle(Command command, CancellationToken cancellationToken)
        {
            var cleared = pool.Clear();
            audit.Record("k8s-client-pool.clear", "k8s_client_pool", null, null, new { cleared });
            return Task.FromResult(new Response("Connection pool cleared", cleared));
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/api/v1/admin/k8s/clear-client-pool", async (IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Command(), cancellationToken)))
                .RequirePermission(Permissions.ClientPoolClear)
                .WithName(nameof(ClearClientPool))
                .WithTags(ClusterRoutes.Admin)
                .WithSummary("Drop the pooled Kubernetes clients")
                .ProducesErrors(401, 403);
    }
}

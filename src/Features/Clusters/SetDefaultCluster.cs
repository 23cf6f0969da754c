using Capstan.Infrastructure.Audit;
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

/// <summary><c>PUT /v1/api/clusters/{name}/default</c> (seed 002): makes a cluster the caller can see their default
/// (replacing the previous one); gitops routes use it when no cluster is named.
/// <c>{message: "Default cluster set successfully", cluster}</c>.</summary>
public static class SetDefaultCluster
{
    public sealed record Command(string Name) : ICommand<Response>;

    public sealed record Response(string Message, ClusterResponse Cluster);

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator() => RuleFor(command => command.Name).NotEmpty().MaximumLength(100);
    }

    internal sealed class Handler(DbSession db, RequestContext request, AuditTrail audit, ClusterDirectory directory, TimeProvider clock) : IRequestHandler<Command, Response>
    {
        private const string Upsert = """
            INSERT INTO clusters.user_defaults (user_id, cluster_id, updated_at) VALUES (@UserId, @ClusterId, @Now)
            ON CONFLICT (user_id) DO UPDATE SET cluster_id = EXCLUDED.cluster_id, updated_at = EXCLUDED.updated_at
            """;

        public async Task<Response> Handle(Command command, CancellationToken cancellationToken)
        {
            var caller = request.RequiredCaller;
            var cluster = await directory.GetVisibleAsync(command.Name, caller, cancellationToken);
            await db.ExecuteAsync(Upsert, new { caller.UserId, ClusterId = cluster.Id, Now = clock.GetUtcNow().UtcDateTime }, cancellationToken);
            audit.Record("cluster.set_default", "cluster", cluster.Id.ToString(), cluster.Name);
            return new Response("Default cluster set successfully", await ClusterShapes.LoadAsync(db, cluster.Id, caller, cancellationToken));
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPut("/v1/api/clusters/{name}/default", async (string name, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Command(name), cancellationToken)))
                .RequirePermission(Permissions.ClusterRead)
                .WithName(nameof(SetDefaultCluster))
                .WithTags(ClusterRoutes.Registry)
                .WithSummary("Set as default cluster (seed 002)")
                .ProducesErrors(400, 401, 403, 404);
    }
}

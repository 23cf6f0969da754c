using Capstan.Infrastructure.Audit;
using Capstan.Infrastructure.Clusters;
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

namespace Capstan.Features.Clusters;

/// <summary><c>DELETE /v1/api/clusters/{name}</c> (seed 002): the owner (or a cluster manager) removes a cluster with
/// its shares and logs. <c>{message: "Cluster removed successfully", cluster: name}</c>; 403 for a shared cluster the
/// caller does not own.</summary>
public static class DeleteCluster
{
    public sealed record Command(string Name) : ICommand<Response>;

    public sealed record Response(string Message, string Cluster);

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator() => RuleFor(command => command.Name).NotEmpty().MaximumLength(100);
    }

    internal sealed class Handler(DbSession db, RequestContext request, AuditTrail audit, ClusterDirectory directory) : IRequestHandler<Command, Response>
    {
        private const string Delete = """
            DELETE FROM identity.flux_bindings WHERE cluster = @Id::text;
            DELETE FROM clusters.clusters WHERE id = @Id;
            """;

        public async Task<Response> Handle(Command command, CancellationToken cancellationToken)
        {
            var caller = request.RequiredCaller;
            var cluster = await directory.GetVisibleAsync(command.Name, caller, cancellationToken);
            if (!ClusterDirectory.CanManage(cluster, caller))
            {
                throw new ForbiddenException("Only the cluster's owner can remove it");
            }

            await db.ExecuteAsync(Delete, new { cluster.Id }, cancellationToken);
            directory.Forget(cluster.Id);
            audit.Record("cluster.delete", "cluster", cluster.Id.ToString(), cluster.Name);
            return new Response("Cluster removed successfully", cluster.Name);
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapDelete("/v1/api/clusters/{name}", async (string name, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Command(name), cancellationToken)))
                .RequirePermission(Permissions.ClusterEdit)
                .WithName(nameof(DeleteCluster))
                .WithTags(ClusterRoutes.Registry)
                .WithSummary("Remove a cluster (seed 002)")
                .ProducesErrors(400, 401, 403, 404);
    }
}

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

/// <summary><c>DELETE /api/v1/clusters/{clusterId}</c> (seed 001): removes a cluster with its shares, defaults, logs,
/// Flux history and bindings to it; its pooled client is dropped. 200 <c>{success, message, id}</c>.</summary>
public static class RemoveCluster
{
    public sealed record Command(Guid ClusterId) : ICommand<Response>;

    public sealed record Response(bool Success, string Message, Guid Id);

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator() => RuleFor(command => command.ClusterId).NotEmpty();
    }

    internal sealed class Handler(DbSession db, RequestContext request, AuditTrail audit, ClusterDirectory directory) : IRequestHandler<Command, Response>
    {
        private const string Delete = """
            DELETE FROM identity.flux_bindings WHERE cluster = @Id::text;
            DELETE FROM clusters.clusters WHERE id = @Id;
            """;

        public async Task<Response> Handle(Command command, CancellationToken cancellationToken)
        {
            var cluster = await directory.FindVisibleAsync(command.ClusterId.ToString(), request.RequiredCaller, cancellationToken)
                ?? throw new NotFoundException("Cluster not found");
            await db.ExecuteAsync(Delete, new { Id = cluster.Id }, cancellationToken);
            directory.Forget(cluster.Id);
            audit.Record("cluster.delete", "cluster", cluster.Id.ToString(), cluster.Name);
            return new Response(true, $"Cluster '{cluster.Name}' removed", cluster.Id);
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapDelete("/api/v1/clusters/{clusterId}", async (Guid clusterId, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Command(clusterId), cancellationToken)))
                .RequirePermission(Permissions.ClusterManage)
                .WithName(nameof(RemoveCluster))
                .WithTags(ClusterRoutes.Registry)
                .WithSummary("Remove a cluster (seed 001)")
                .ProducesErrors(400, 401, 403, 404);
    }
}

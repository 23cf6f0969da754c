using System.Text.Json;
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

/// <summary><c>POST /v1/api/clusters/{name}/refresh</c> (seed 002): re-reads the cluster's version, platform,
/// provider, region, nodes, capacity, namespaces, storage classes and capabilities and stores them.
/// <c>{message: "Metadata refreshed successfully", metadata}</c>; 503 when the cluster does not answer.</summary>
public static class RefreshCluster
{
    public sealed record Command(string Name) : ICommand<Response>;

    public sealed record Response(string Message, ClusterMetadata Metadata);

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator() => RuleFor(command => command.Name).NotEmpty().MaximumLength(100);
    }

    internal sealed class Handler(DbSession db, RequestContext request, AuditTrail audit, ClusterDirectory directory, TimeProvider clock) : IRequestHandler<Command, Response>
    {
        private const string Update = """
            UPDATE clusters.clusters
            SET metadata = CAST(@Metadata AS jsonb), version = @Version, status = 'connected', last_check = @Now, last_error = NULL, updated_at = @Now
            WHERE id = @Id
            """;

        public async Task<Response> Handle(Command command, CancellationToken cancellationToken)
        {
            var cluster = await directory.GetVisibleAsync(command.Name, request.RequiredCaller, cancellationToken);
            var metadata = await ClusterInspector.ReadMetadataAsync(directory.Connect(cluster), clock, cancellationToken);
            await db.ExecuteAsync(
                Update,
                new { cluster.Id, Metadata = JsonSerializer.Serialize(metadata, JsonSerializerOptions.Web), metadata.Version, Now = metadata.LastUpdated.UtcDateTime },
                cancellationToken);
            audit.Record("cluster.refresh", "cluster", cluster.Id.ToString(), cluster.Name, new { metadata.Version, nodes = metadata.NodeCount });
            return new Response("Metadata refreshed successfully", metadata);
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/v1/api/clusters/{name}/refresh", async (string name, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Command(name), cancellationToken)))
                .RequirePermission(Permissions.ClusterEdit)
                .WithName(nameof(RefreshCluster))
                .WithTags(ClusterRoutes.Registry)
                .WithSummary("Refresh cluster metadata (seed 002)")
                .ProducesErrors(400, 401, 403, 404, 503);
    }
}

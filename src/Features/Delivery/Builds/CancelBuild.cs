using System.Text.Json.Nodes;
using Capstan.Infrastructure.Audit;
using Capstan.Infrastructure.Clusters;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Delivery;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Events;
using Capstan.Infrastructure.Http;
using Capstan.Infrastructure.Mediation;
using Capstan.Infrastructure.Routing;
using Capstan.Infrastructure.Security;
using FluentValidation;
using MediatR;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Capstan.Features.Delivery.Builds;

/// <summary><c>POST /v1/api/builds/{id}/cancel</c> (seed 002): stops a running build — its Job (with its pods) and its
/// registry login Secret are deleted — and marks it cancelled; streams end with <c>cancelled</c>. A build that already
/// ended is a 409 naming its state.</summary>
public static class CancelBuild
{
    public sealed record Command(Guid Id) : ICommand<Response>;

    public sealed record Response(string Message, BuildView Build);

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator() => RuleFor(command => command.Id).NotEmpty();
    }

    internal sealed class Handler(DbSession db, RequestContext request, ClusterDirectory directory, EventHub hub, AuditTrail audit) : IRequestHandler<Command, Response>
    {
        public async Task<Response> Handle(Command command, CancellationToken cancellationToken)
        {
            var caller = request.RequiredCaller;
            var build = await BuildRecords.GetOwnedAsync(db, command.Id, caller.UserId, cancellationToken, forUpdate: true);
            if (build.IsTerminal)
            {
                throw new ConflictException($"build is already in terminal state: {build.Status}");
            }

            if (build.ClusterId is { } clusterId && (await directory.AllAsync(cancellationToken)).FirstOrDefault(cluster => cluster.Id == clusterId) is { } cluster)
            {
                var client = directory.Connect(cluster);
                await ManifestApplier.DeleteAsync(client, "batch/v1", "Job", build.Namespace, build.JobName, cancellationToken);
                await BuildTracker.DeleteLoginSecretAsync(client, build.Namespace, build.Id, cancellationToken);
            }

            await db.ExecuteAsync(
                """
                UPDATE delivery.builds SET status = 'cancelled', current_stage = 'Cancelled', completed_at = now(),
                    duration_ms = (EXTRACT(EPOCH FROM (now() - created_at)) * 1000)::bigint, updated_at = now()
                WHERE id = @Id
                """,
                new { build.Id },
                cancellationToken);
            await hub.PublishAsync(db, DeliveryEvents.BuildTopic(build.Id), DeliveryEvents.Frame("build", build.Id, "cancelled", new JsonObject(), DateTimeOffset.UtcNow), cancellationToken);
            audit.Record("delivery.build.cancel", "build", build.Id.ToString(), build.ImageRef, new { was = build.Status });
            return new Response("Build cancelled successfully", BuildRecords.View(await BuildRecords.GetOwnedAsync(db, build.Id, caller.UserId, cancellationToken)));
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/v1/api/builds/{id}/cancel", async (Guid id, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Command(id), cancellationToken)))
                .RequirePermission(Permissions.DeliveryBuild)
                .WithName("Delivery" + nameof(CancelBuild))
                .WithTags(DeliveryRoutes.Builds)
                .WithSummary("Cancel an in-progress build")
                .ProducesErrors(400, 401, 403, 404, 409, 503);
    }
}

using Capstan.Infrastructure.Audit;
using Capstan.Infrastructure.Background;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Delivery;
using Capstan.Infrastructure.Http;
using Capstan.Infrastructure.Mediation;
using Capstan.Infrastructure.Routing;
using Capstan.Infrastructure.Security;
using MediatR;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Capstan.Features.Delivery.Resources;

/// <summary><c>POST /v1/api/resources/sync</c> (seed 002): starts a sync of the caller's tracked resources from every
/// cluster they can use and answers 202 at once (<c>{message, status}</c>; <c>already_running</c> when one is under
/// way). The sync runs in the background; <c>GET /v1/api/resources</c> shows its result.</summary>
public static class SyncResources
{
    public sealed record Command : ICommand<Response>;

    public sealed record Response(string Message, string Status);

    internal sealed class Handler(DbSession db, RequestContext request, AuditTrail audit) : IRequestHandler<Command, Response>
    {
        public async Task<Response> Handle(Command command, CancellationToken cancellationToken)
        {
            var started = await ResourceSync.TryBeginAsync(db, request.RequiredCaller.UserId, cancellationToken);
            audit.Record("delivery.resource.sync", "resources", request.RequiredCaller.UserId.ToString(), null, new { started });
            return started
                ? new Response("Sync started for all clusters", "started")
                : new Response("A sync is already running", "already_running");
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/v1/api/resources/sync", async (IMediator mediator, RequestContext request, IServiceProvider services, CancellationToken cancellationToken) =>
                {
                    var response = await mediator.Send(new Command(), cancellationToken);
                    if (response.Status == "started")
                    {
                        var caller = request.RequiredCaller;
                        _ = BackgroundWork.Start(services, "resource sync", (scope, token) => ResourceSync.RunAsync(scope, caller.UserId, caller.Has(Permissions.ClusterManage), token));
                    }

                    return TypedResults.Accepted("/v1/api/resources", response);
                })
                .RequirePermission(Permissions.DeliveryEdit)
                .WithName("Delivery" + nameof(SyncResources))
                .WithTags(DeliveryRoutes.Resources)
                .WithSummary("Sync resources from Kubernetes")
                .Produces<Response>(202)
                .ProducesErrors(401, 403);
    }
}

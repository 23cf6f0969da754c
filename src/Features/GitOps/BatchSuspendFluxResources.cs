using System.Text.Json.Nodes;
using Capstan.Infrastructure.Audit;
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
using Microsoft.Extensions.Configuration;

namespace Capstan.Features.GitOps;

/// <summary><c>POST /api/v1/flux/batch/suspend</c> (seed 000): <c>{resources: [{type, namespace, name}]}</c> (at most
/// 100), the suspend JSON patch per item, one after the other, each checked against the caller's Flux RBAC. Always 200 with per-item
/// <c>{resource, success, message}</c> and <c>summary: {total, successful, failed}</c>; 60 batches a minute per user.</summary>
public static class BatchSuspendFluxResources
{
    public sealed record Command(JsonObject? Body, string? Cluster, string? ClusterCookie) : ICommand<FluxBatchResponse>;

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator()
        {
            RuleFor(command => command.Body!["resources"]).Must(resources => resources is JsonArray).WithMessage("Missing or invalid resources array in request body").OverridePropertyName("resources");
            RuleFor(command => command.Body!["resources"]).Must(resources => resources is not JsonArray array || array.Count <= FluxBatch.MaxItems)
                .WithMessage($"Batch size exceeded: maximum {FluxBatch.MaxItems} resources allowed per request").OverridePropertyName("resources");
        }
    }

    internal sealed class Handler(FluxGateway gateway, AuditTrail audit, RateLimiter rateLimiter, IConfiguration configuration) : IRequestHandler<Command, FluxBatchResponse>
    {
        public async Task<FluxBatchResponse> Handle(Command command, CancellationToken cancellationToken)
        {
            var items = FluxBatch.Items(command.Body);
            var session = await gateway.OpenAsync(command.Cluster ?? command.Body?["cluster"]?.ToString(), command.ClusterCookie, cancellationToken);
            await rateLimiter.EnforceAsync(
                $"flux-batch:{session.Caller.UserId}", new RateLimitRule(configuration.GetValue("GitOps:BatchRateLimit:PermitPerMinute", 60), TimeSpan.FromMinutes(1)), cancellationToken);
            return await FluxBatch.RunAsync(
                session,
                items,
                FluxAction.Write,
                async (type, ns, name) =>
                    {
                        await FluxActions.SetSuspendedAsync(session.Client, type, ns, name, suspend: true, cancellationToken);
                        audit.Record("flux.batch.suspend", type.Kind, $"{ns}/{name}", name, new { cluster = session.Cluster.Name });
                        return $"Suspended {name}";
                    },
                cancellationToken);
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/api/v1/flux/batch/suspend", async (JsonObject? body, string? cluster, HttpRequest request, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Command(body ?? [], cluster, request.Cookies[ClusterDirectory.CookieName]), cancellationToken)))
                .RequirePermission(Permissions.FluxWrite)
                .WithName(nameof(BatchSuspendFluxResources))
                .WithTags(GitOpsRoutes.Actions)
                .WithSummary("Suspend many Flux resources")
                .ProducesErrors(400, 401, 403, 404, 429, 503);
    }
}

using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
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

namespace Capstan.Features.Delivery.Workflows;

/// <summary>
/// <c>PUT /v1/api/workflows/{id}/status</c> (seed 002): <c>{status}</c> draft, published or archived. Archiving first
/// deletes from the cluster what the workflow's runs applied (ingress and services first, then workloads, autoscalers,
/// policies, config and storage; Secrets are kept since their values are not stored) — this needs
/// <c>delivery.deploy</c> — and ends the workflow's status streams. A delete that fails becomes <c>warning</c>; the
/// status changes anyway, as upstream. Answers <c>{message, status, warning?, deleted, kept}</c>.
/// </summary>
public static class UpdateWorkflowStatus
{
    private static readonly string[] Statuses = ["draft", "published", "archived"];

    public sealed record Body(string? Status);

    public sealed record Command(Guid Id, string? Status) : ICommand<Response>;

    public sealed record Response
    {
        [JsonPropertyName("message")]
        public string Message { get; init; } = string.Empty;

        [JsonPropertyName("status")]
        public string Status { get; init; } = string.Empty;

        [JsonPropertyName("warning")]
        [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
        public string? Warning { get; init; }

        [JsonPropertyName("deleted")]
        public IReadOnlyList<string> Deleted { get; init; } = [];

        [JsonPropertyName("kept")]
        public IReadOnlyList<string> Kept { get; init; } = [];
    }

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator()
        {
            RuleFor(command => command.Id).NotEmpty();
            RuleFor(command => command.Status).Must(status => status is not null && Statuses.Contains(status))
                .WithMessage("Invalid status: use draft, published or archived");
        }
    }

    internal sealed class Handler(DbSession db, RequestContext request, ClusterDirectory directory, EventHub hub, AuditTrail audit) : IRequestHandler<Command, Response>
    {
        public async Task<Response> Handle(Command command, CancellationToken cancellationToken)
        {
            var caller = request.RequiredCaller;
            var workflow = await WorkflowStore.GetOwnedAsync(db, command.Id, caller.UserId, cancellationToken, forUpdate: true);
            var cleanup = new CleanupResult([], [], []);
            if (command.Status == "archived")
            {
                if (!caller.Has(Permissions.DeliveryDeploy))
                {
                    throw new ForbiddenException("Archiving removes the workflow's resources from the cluster, which needs the delivery.deploy permission");
                }

                cleanup = await DeliveryClusters.CleanUpAsync(db, directory, caller, workflow.Id, null, cancellationToken);
            }

            await db.ExecuteAsync("UPDATE delivery.workflows SET status = @Status, updated_at = now() WHERE id = @Id", new { command.Id, command.Status }, cancellationToken);
            if (command.Status == "archived")
            {
                await hub.PublishAsync(db, DeliveryEvents.WorkflowTopic(workflow.Id), DeliveryEvents.WorkflowFrame(workflow.Id, DeliveryEvents.Closed, new JsonObject { ["reason"] = "archived" }, DateTimeOffset.UtcNow), cancellationToken);
            }

            audit.Record("delivery.workflow.status", "workflow", workflow.Id.ToString(), workflow.Name, new
            {
                from = workflow.Status,
                to = command.Status,
                deleted = cleanup.Deleted,
                warnings = cleanup.Warnings.Count,
            });
            return new Response
            {
                Message = "Workflow status updated successfully",
                Status = command.Status!,
                Warning = cleanup.Warnings.Count > 0 ? "Some resources could not be removed from the cluster: " + string.Join("; ", cleanup.Warnings) : null,
                Deleted = cleanup.Deleted,
                Kept = cleanup.Kept,
            };
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPut("/v1/api/workflows/{id}/status", async (Guid id, Body body, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Command(id, body.Status?.Trim().ToLowerInvariant()), cancellationToken)))
                .RequirePermission(Permissions.DeliveryEdit)
                .WithName("Delivery" + nameof(UpdateWorkflowStatus))
                .WithTags(DeliveryRoutes.Workflows)
                .WithSummary("Update workflow status (draft/published/archived)")
                .ProducesErrors(400, 401, 403, 404);
    }
}

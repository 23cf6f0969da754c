using System.Text.Json.Nodes;
using Capstan.Infrastructure.Audit;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Delivery;
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

/// <summary><c>DELETE /v1/api/workflows/{id}</c> (seed 002): soft delete — the workflow disappears from every route,
/// list, search and statistic (404 from now on); what it deployed stays in the cluster (archive first to remove it).
/// Open status streams end.</summary>
public static class DeleteWorkflow
{
    public sealed record Command(Guid Id) : ICommand<MessageResponse>;

    public sealed record MessageResponse(string Message);

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator() => RuleFor(command => command.Id).NotEmpty();
    }

    internal sealed class Handler(DbSession db, RequestContext request, EventHub hub, AuditTrail audit) : IRequestHandler<Command, MessageResponse>
    {
        public async Task<MessageResponse> Handle(Command command, CancellationToken cancellationToken)
        {
            var workflow = await WorkflowStore.GetOwnedAsync(db, command.Id, request.RequiredCaller.UserId, cancellationToken, forUpdate: true);
            await db.ExecuteAsync("UPDATE delivery.workflows SET deleted_at = now(), updated_at = now() WHERE id = @Id", new { command.Id }, cancellationToken);
            await hub.PublishAsync(db, DeliveryEvents.WorkflowTopic(workflow.Id), DeliveryEvents.WorkflowFrame(workflow.Id, DeliveryEvents.Closed, new JsonObject { ["reason"] = "deleted" }, DateTimeOffset.UtcNow), cancellationToken);
            audit.Record("delivery.workflow.delete", "workflow", workflow.Id.ToString(), workflow.Name);
            return new MessageResponse("Workflow deleted successfully");
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapDelete("/v1/api/workflows/{id}", async (Guid id, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Command(id), cancellationToken)))
                .RequirePermission(Permissions.DeliveryEdit)
                .WithName("Delivery" + nameof(DeleteWorkflow))
                .WithTags(DeliveryRoutes.Workflows)
                .WithSummary("Delete a workflow")
                .ProducesErrors(400, 401, 403, 404);
    }
}

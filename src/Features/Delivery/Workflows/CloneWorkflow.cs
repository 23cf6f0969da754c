using System.Text.Json.Nodes;
using Capstan.Infrastructure.Audit;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Delivery;
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

/// <summary><c>POST /v1/api/workflows/{id}/clone</c> (seed 002): <c>{name}</c> → 201, a draft copy of the caller's
/// workflow (nodes without their run status, edges, tags, cluster), description suffixed " (Cloned)", run counts reset.
/// The upstream cloned anyone's workflow; here only the caller's (another's is a 404).</summary>
public static class CloneWorkflow
{
    public sealed record Body(string? Name);

    public sealed record Command(Guid Id, string? Name) : ICommand<JsonObject>;

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator()
        {
            RuleFor(command => command.Id).NotEmpty();
            RuleFor(command => command.Name).NotEmpty().WithMessage("name is required").MaximumLength(200);
        }
    }

    internal sealed class Handler(DbSession db, RequestContext request, AuditTrail audit) : IRequestHandler<Command, JsonObject>
    {
        private const string Insert = """
            INSERT INTO delivery.workflows (id, owner_id, name, description, cluster_id, status, tags, nodes, edges, current_version, created_at, updated_at)
            VALUES (@Id, @OwnerId, @Name, @Description, @ClusterId, 'draft', @Tags, CAST(@Nodes AS jsonb), CAST(@Edges AS jsonb), 1, @Now, @Now)
            """;

        private const string InsertVersion = """
            INSERT INTO delivery.workflow_versions (id, workflow_id, version, nodes, edges, description, created_at, created_by, is_automatic)
            VALUES (@Id, @WorkflowId, 1, CAST(@Nodes AS jsonb), CAST(@Edges AS jsonb), @Description, @Now, @By, false)
            """;

        public async Task<JsonObject> Handle(Command command, CancellationToken cancellationToken)
        {
            var caller = request.RequiredCaller;
            var source = await WorkflowStore.GetOwnedAsync(db, command.Id, caller.UserId, cancellationToken);
            var nodes = JsonNode.Parse(source.Nodes) as JsonArray ?? [];
            foreach (var data in nodes.OfType<JsonObject>().Select(node => node["data"]).OfType<JsonObject>())
            {
                data.Remove("_status");
                data.Remove("_secretCreated");
            }

            var id = Guid.CreateVersion7();
            var now = DateTime.UtcNow;
            await db.ExecuteAsync(
                Insert,
                new
                {
                    Id = id,
                    OwnerId = caller.UserId,
                    Name = command.Name!.Trim(),
                    Description = (source.Description + " (Cloned)").Trim(),
                    source.ClusterId,
                    source.Tags,
                    Nodes = nodes.ToJsonString(),
                    source.Edges,
                    Now = now,
                },
                cancellationToken);
            await db.ExecuteAsync(
                InsertVersion,
                new { Id = Guid.CreateVersion7(), WorkflowId = id, Nodes = nodes.ToJsonString(), source.Edges, Description = $"Cloned from {source.Name}", Now = now, By = caller.UserId },
                cancellationToken);
            var clone = await WorkflowStore.GetOwnedAsync(db, id, caller.UserId, cancellationToken);
            audit.Record("delivery.workflow.clone", "workflow", id.ToString(), clone.Name, new { source = source.Id });
            return WorkflowStore.Created(WorkflowStore.View(clone), "Workflow cloned successfully");
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/v1/api/workflows/{id}/clone", async (Guid id, Body body, IMediator mediator, CancellationToken cancellationToken) =>
                {
                    var clone = await mediator.Send(new Command(id, body.Name), cancellationToken);
                    return TypedResults.Created($"/v1/api/workflows/{clone["id"]}", clone);
                })
                .RequirePermission(Permissions.DeliveryEdit)
                .WithName("Delivery" + nameof(CloneWorkflow))
                .WithTags(DeliveryRoutes.Workflows)
                .WithSummary("Clone a workflow")
                .ProducesErrors(400, 401, 403, 404);
    }
}

using System.Text.Json.Nodes;
using Capstan.Infrastructure.Audit;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Delivery;
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

namespace Capstan.Features.Delivery.Imports;

/// <summary><c>POST /v1/api/import/apply</c> (seed 002, reference §13): <c>{workflowId, nodes, edges?, positions?}</c>
/// adds the imported nodes and edges to one of the caller's workflows (placed at <c>positions[nodeId]</c> when given).
/// The combined graph must hold together (400); a node or edge id the workflow already has is a 409 (the upstream
/// appended duplicates). Answers <c>{workflow, message}</c>.</summary>
public static class ApplyImport
{
    public sealed record Command(Guid? WorkflowId, JsonNode? Nodes, JsonNode? Edges, JsonObject? Positions) : ICommand<Response>;

    public sealed record Response(WorkflowView Workflow, string Message);

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator()
        {
            RuleFor(command => command.WorkflowId).NotEmpty().WithMessage("workflowId is required");
            RuleFor(command => command.Nodes).NotNull().WithMessage("nodes is required");
            RuleFor(command => command).Custom((command, context) =>
            {
                foreach (var problem in WorkflowGraph.Check(command.Nodes, command.Edges, out _))
                {
                    context.AddFailure(problem.Field, problem.Message);
                }
            });
        }
    }

    internal sealed class Handler(DbSession db, RequestContext request, AuditTrail audit) : IRequestHandler<Command, Response>
    {
        public async Task<Response> Handle(Command command, CancellationToken cancellationToken)
        {
            var caller = request.RequiredCaller;
            var workflow = await WorkflowStore.GetOwnedAsync(db, command.WorkflowId!.Value, caller.UserId, cancellationToken, forUpdate: true);
            var nodes = JsonNode.Parse(workflow.Nodes) as JsonArray ?? [];
            var edges = JsonNode.Parse(workflow.Edges) as JsonArray ?? [];
            var nodeIds = nodes.OfType<JsonObject>().Select(node => NodeData.Text(node["id"])).OfType<string>().ToHashSet(StringComparer.Ordinal);
            var edgeIds = edges.OfType<JsonObject>().Select(edge => NodeData.Text(edge["id"])).OfType<string>().ToHashSet(StringComparer.Ordinal);
            var added = WorkflowStore.Tidy(command.Nodes as JsonArray ?? []);
            foreach (var node in added.OfType<JsonObject>())
            {
                var id = NodeData.Text(node["id"])!;
                if (nodeIds.Contains(id))
                {
                    throw new ConflictException($"The workflow already has a node '{id}'");
                }

                if (command.Positions?[id] is JsonObject position)
                {
                    node["position"] = position.DeepClone();
                }

                nodes.Add(node.DeepClone());
            }

            foreach (var edge in (command.Edges as JsonArray ?? []).OfType<JsonObject>())
            {
                if (NodeData.Text(edge["id"]) is { } id && edgeIds.Contains(id))
                {
                    throw new ConflictException($"The workflow already has an edge '{id}'");
                }

                edges.Add(edge.DeepClone());
            }

            if (WorkflowGraph.Check(nodes, edges, out _) is { Count: > 0 } problems)
            {
                throw BadRequestException.ForField(problems[0].Field, problems[0].Message);
            }

            await db.ExecuteAsync(
                "UPDATE delivery.workflows SET nodes = CAST(@Nodes AS jsonb), edges = CAST(@Edges AS jsonb), updated_at = now() WHERE id = @Id",
                new { workflow.Id, Nodes = nodes.ToJsonString(), Edges = edges.ToJsonString() },
                cancellationToken);
            audit.Record("delivery.import.apply", "workflow", workflow.Id.ToString(), workflow.Name, new { nodes = added.Count, edges = (command.Edges as JsonArray)?.Count ?? 0 });
            return new Response(WorkflowStore.View(await WorkflowStore.GetOwnedAsync(db, workflow.Id, caller.UserId, cancellationToken)), "Import applied successfully");
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/v1/api/import/apply", async (Command command, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(command, cancellationToken)))
                .RequirePermission(Permissions.DeliveryEdit)
                .WithName("Delivery" + nameof(ApplyImport))
                .WithTags(DeliveryRoutes.Import)
                .WithSummary("Apply import to existing workflow")
                .WithBodyLimit(4L << 20)
                .ProducesErrors(400, 401, 403, 404, 409, 413);
    }
}

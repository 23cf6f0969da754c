using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Capstan.Infrastructure.Audit;
using Capstan.Infrastructure.Clusters;
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

/// <summary>
/// <c>POST /v1/api/workflows/{id}/save</c> (seed 002): <c>{nodes, edges, description?}</c> replaces the graph without
/// making a version. Node names, namespaces and workload images are trimmed. When the workflow has run, nodes taken
/// off the canvas are removed from the cluster too (the objects their runs applied, Secrets kept) — upstream did that
/// for deployments and services only. Answers <c>{message, workflow, deleted, warning?}</c>.
/// </summary>
public static class SaveWorkflow
{
    public sealed record Body(JsonNode? Nodes, JsonNode? Edges, string? Description);

    public sealed record Command(Guid Id, JsonNode? Nodes, JsonNode? Edges, string? Description) : ICommand<Response>;

    public sealed record Response
    {
        [JsonPropertyName("message")]
        public string Message { get; init; } = string.Empty;

        [JsonPropertyName("workflow")]
        public WorkflowView Workflow { get; init; } = new();

        [JsonPropertyName("deleted")]
        public IReadOnlyList<string> Deleted { get; init; } = [];

        [JsonPropertyName("warning")]
        [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
        public string? Warning { get; init; }
    }

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator()
        {
            RuleFor(command => command.Id).NotEmpty();
            RuleFor(command => command.Nodes).NotNull().WithMessage("nodes is required (an array, possibly empty)");
            RuleFor(command => command.Description).MaximumLength(2000);
            RuleFor(command => command).Custom((command, context) =>
            {
                foreach (var problem in WorkflowGraph.Check(command.Nodes, command.Edges, out _))
                {
                    context.AddFailure(problem.Field, problem.Message);
                }
            });
        }
    }

    internal sealed class Handler(DbSession db, RequestContext request, ClusterDirectory directory, AuditTrail audit) : IRequestHandler<Command, Response>
    {
        public async Task<Response> Handle(Command command, CancellationToken cancellationToken)
        {
            var caller = request.RequiredCaller;
            var workflow = await WorkflowStore.GetOwnedAsync(db, command.Id, caller.UserId, cancellationToken, forUpdate: true);
            var nodes = WorkflowStore.Tidy(command.Nodes as JsonArray ?? []);
            var cleanup = new CleanupResult([], [], []);
            var kept = nodes.OfType<JsonObject>().Select(node => NodeData.Text(node["id"])).OfType<string>().ToHashSet(StringComparer.Ordinal);
            var removed = workflow.Graph().Nodes.Select(node => node.Id).Where(id => !kept.Contains(id)).ToList();
            if (workflow.RunCount > 0 && removed.Count > 0)
            {
                cleanup = await DeliveryClusters.CleanUpAsync(db, directory, caller, workflow.Id, removed, cancellationToken);
            }

            await db.ExecuteAsync(
                """
                UPDATE delivery.workflows SET nodes = CAST(@Nodes AS jsonb), edges = CAST(@Edges AS jsonb),
                    description = COALESCE(@Description, description), updated_at = now()
                WHERE id = @Id
                """,
                new { command.Id, Nodes = nodes.ToJsonString(), Edges = (command.Edges as JsonArray ?? []).ToJsonString(), Description = command.Description?.Trim() },
                cancellationToken);
            var saved = await WorkflowStore.GetOwnedAsync(db, command.Id, caller.UserId, cancellationToken);
            audit.Record("delivery.workflow.save", "workflow", saved.Id.ToString(), saved.Name, new { nodes = nodes.Count, removed, deleted = cleanup.Deleted });
            return new Response
            {
                Message = "Workflow saved successfully",
                Workflow = WorkflowStore.View(saved),
                Deleted = cleanup.Deleted,
                Warning = cleanup.Warnings.Count > 0 ? string.Join("; ", cleanup.Warnings) : null,
            };
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/v1/api/workflows/{id}/save", async (Guid id, Body body, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Command(id, body.Nodes, body.Edges, body.Description), cancellationToken)))
                .RequirePermission(Permissions.DeliveryEdit)
                .WithName("Delivery" + nameof(SaveWorkflow))
                .WithTags(DeliveryRoutes.Workflows)
                .WithSummary("Save nodes and edges without versioning")
                .WithBodyLimit(4L << 20)
                .ProducesErrors(400, 401, 403, 404, 413);
    }
}

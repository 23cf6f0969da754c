using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Capstan.Infrastructure.Audit;
using Capstan.Infrastructure.Clusters;
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

/// <summary><c>POST /v1/api/import/create-workflow</c> (seed 002, reference §13): <c>{name, clusterId?, analysis}</c> →
/// a new draft workflow holding the analysis' suggested nodes (at their layout positions) and edges, described
/// "Imported from &lt;detectedType&gt;" and tagged <c>imported</c> and the type; version 1 records it. Answers 200
/// <c>{workflow, message}</c> as the upstream.</summary>
public static class CreateWorkflowFromImport
{
    public sealed record Command : ICommand<Response>
    {
        public string? Name { get; init; }

        public string? ClusterId { get; init; }

        [JsonPropertyName("cluster_id")]
        public string? ClusterIdSnake { get; init; }

        public JsonObject? Analysis { get; init; }

        [JsonIgnore]
        public string Cluster => (ClusterId ?? ClusterIdSnake ?? string.Empty).Trim();
    }

    public sealed record Response(WorkflowView Workflow, string Message);

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator()
        {
            RuleFor(command => command.Name).NotEmpty().WithMessage("name is required").MaximumLength(200);
            RuleFor(command => command.Cluster).MaximumLength(100).OverridePropertyName("clusterId");
            RuleFor(command => command.Analysis).NotNull().WithMessage("analysis is required");
            RuleFor(command => command).Custom((command, context) =>
            {
                if (command.Analysis is { } analysis)
                {
                    foreach (var problem in WorkflowGraph.Check(analysis["suggestedNodes"] ?? new JsonArray(), analysis["suggestedEdges"] ?? new JsonArray(), out _, "analysis.suggestedNodes", "analysis.suggestedEdges"))
                    {
                        context.AddFailure(problem.Field, problem.Message);
                    }
                }
            });
        }
    }

    internal sealed class Handler(DbSession db, RequestContext request, ClusterDirectory directory, AuditTrail audit) : IRequestHandler<Command, Response>
    {
        public async Task<Response> Handle(Command command, CancellationToken cancellationToken)
        {
            var caller = request.RequiredCaller;
            if (command.Cluster.Length > 0 && await directory.FindVisibleAsync(command.Cluster, caller, cancellationToken) is null)
            {
                throw new NotFoundException($"Cluster '{command.Cluster}' not found");
            }

            var analysis = command.Analysis!;
            var type = NodeData.Text(analysis["detectedType"]) ?? "docker-compose";
            var nodes = WorkflowStore.Tidy(analysis["suggestedNodes"] as JsonArray ?? []);
            foreach (var node in nodes.OfType<JsonObject>())
            {
                if (NodeData.Text(node["id"]) is { } nodeId && analysis["layoutPositions"]?[nodeId] is JsonObject position)
                {
                    node["position"] = position.DeepClone();
                }
            }

            var edges = (analysis["suggestedEdges"] as JsonArray ?? []).ToJsonString();
            var id = Guid.CreateVersion7();
            await db.ExecuteAsync(
                """
                INSERT INTO delivery.workflows (id, owner_id, name, description, cluster_id, status, tags, nodes, edges, current_version, created_at, updated_at)
                VALUES (@Id, @OwnerId, @Name, @Description, @ClusterId, 'draft', @Tags, CAST(@Nodes AS jsonb), CAST(@Edges AS jsonb), 1, now(), now());
                INSERT INTO delivery.workflow_versions (id, workflow_id, version, nodes, edges, description, created_at, created_by, is_automatic)
                VALUES (@VersionId, @Id, 1, CAST(@Nodes AS jsonb), CAST(@Edges AS jsonb), @Description, now(), @OwnerId, false);
                """,
                new
                {
                    Id = id,
                    VersionId = Guid.CreateVersion7(),
                    OwnerId = caller.UserId,
                    Name = command.Name!.Trim(),
                    Description = $"Imported from {type}",
                    ClusterId = command.Cluster,
                    Tags = new[] { "imported", type },
                    Nodes = nodes.ToJsonString(),
                    Edges = edges,
                },
                cancellationToken);
            audit.Record("delivery.import.create_workflow", "workflow", id.ToString(), command.Name, new { type, nodes = nodes.Count });
            return new Response(WorkflowStore.View(await WorkflowStore.GetOwnedAsync(db, id, caller.UserId, cancellationToken)), "Workflow created successfully from import");
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/v1/api/import/create-workflow", async (Command command, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(command, cancellationToken)))
                .RequirePermission(Permissions.DeliveryEdit)
                .WithName("Delivery" + nameof(CreateWorkflowFromImport))
                .WithTags(DeliveryRoutes.Import)
                .WithSummary("Create new workflow from import")
                .WithBodyLimit(4L << 20)
                .ProducesErrors(400, 401, 403, 404, 413);
    }
}

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

namespace Capstan.Features.Delivery.Workflows;

/// <summary><c>POST /v1/api/workflows</c> (seed 002): <c>{name, description?, cluster_id?, tags?, nodes?, edges?}</c> →
/// 201 with the draft workflow flat (seed), plus <c>message</c> and the nested <c>workflow</c> (upstream). The cluster is
/// optional (the run then uses the caller's default); when named it must be one the caller may use. Version 1
/// ("Initial version") is recorded with the graph it starts with.</summary>
public static class CreateWorkflow
{
    public sealed record Command : ICommand<JsonObject>
    {
        public string? Name { get; init; }

        public string? Description { get; init; }

        [JsonPropertyName("cluster_id")]
        public string? ClusterIdSnake { get; init; }

        public string? ClusterId { get; init; }

        public List<string>? Tags { get; init; }

        public JsonNode? Nodes { get; init; }

        public JsonNode? Edges { get; init; }

        [JsonIgnore]
        public string Cluster => (ClusterIdSnake ?? ClusterId ?? string.Empty).Trim();
    }

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator()
        {
            RuleFor(command => command.Name).NotEmpty().WithMessage("name is required").MaximumLength(200);
            RuleFor(command => command.Description).MaximumLength(2000);
            RuleFor(command => command.Cluster).MaximumLength(100).OverridePropertyName("cluster_id");
            RuleFor(command => command.Tags).Must(tags => tags is null || (tags.Count <= 20 && tags.All(tag => tag?.Trim().Length is > 0 and <= 50)))
                .WithMessage("tags: at most 20, each 1 to 50 characters");
            RuleFor(command => command).Custom((command, context) =>
            {
                foreach (var problem in WorkflowGraph.Check(command.Nodes, command.Edges, out _))
                {
                    context.AddFailure(problem.Field, problem.Message);
                }
            });
        }
    }

    internal sealed class Handler(DbSession db, RequestContext request, ClusterDirectory directory, AuditTrail audit) : IRequestHandler<Command, JsonObject>
    {
        private const string Insert = """
            INSERT INTO delivery.workflows (id, owner_id, name, description, cluster_id, status, tags, nodes, edges, current_version, created_at, updated_at)
            VALUES (@Id, @OwnerId, @Name, @Description, @ClusterId, 'draft', @Tags, CAST(@Nodes AS jsonb), CAST(@Edges AS jsonb), 1, @Now, @Now)
            """;

        private const string InsertVersion = """
            INSERT INTO delivery.workflow_versions (id, workflow_id, version, nodes, edges, description, created_at, created_by, is_automatic)
            VALUES (@Id, @WorkflowId, 1, CAST(@Nodes AS jsonb), CAST(@Edges AS jsonb), 'Initial version', @Now, @By, false)
            """;

        public async Task<JsonObject> Handle(Command command, CancellationToken cancellationToken)
        {
            var caller = request.RequiredCaller;
            if (command.Cluster.Length > 0 && await directory.FindVisibleAsync(command.Cluster, caller, cancellationToken) is null)
            {
                throw new NotFoundException($"Cluster '{command.Cluster}' not found");
            }

            var id = Guid.CreateVersion7();
            var now = DateTime.UtcNow;
            var nodes = WorkflowStore.Tidy(command.Nodes as JsonArray ?? []).ToJsonString();
            var edges = (command.Edges as JsonArray ?? []).ToJsonString();
            await db.ExecuteAsync(
                Insert,
                new
                {
                    Id = id,
                    OwnerId = caller.UserId,
                    Name = command.Name!.Trim(),
                    Description = command.Description?.Trim() ?? string.Empty,
                    ClusterId = command.Cluster,
                    Tags = (command.Tags ?? []).Select(tag => tag.Trim()).Distinct().ToArray(),
                    Nodes = nodes,
                    Edges = edges,
                    Now = now,
                },
                cancellationToken);
            await db.ExecuteAsync(InsertVersion, new { Id = Guid.CreateVersion7(), WorkflowId = id, Nodes = nodes, Edges = edges, Now = now, By = caller.UserId }, cancellationToken);
            var workflow = await WorkflowStore.GetOwnedAsync(db, id, caller.UserId, cancellationToken);
            audit.Record("delivery.workflow.create", "workflow", id.ToString(), workflow.Name, new { cluster = command.Cluster });
            return WorkflowStore.Created(WorkflowStore.View(workflow), "Workflow created successfully");
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/v1/api/workflows", async (Command command, IMediator mediator, CancellationToken cancellationToken) =>
                {
                    var created = await mediator.Send(command, cancellationToken);
                    return TypedResults.Created($"/v1/api/workflows/{created["id"]}", created);
                })
                .RequirePermission(Permissions.DeliveryEdit)
                .WithName("Delivery" + nameof(CreateWorkflow))
                .WithTags(DeliveryRoutes.Workflows)
                .WithSummary("Create a new workflow")
                .ProducesErrors(400, 401, 403, 404);
    }
}

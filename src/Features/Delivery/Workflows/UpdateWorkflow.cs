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

/// <summary><c>PUT /v1/api/workflows/{id}</c> (seed 002): changes the fields sent among <c>name</c>, <c>description</c>,
/// <c>cluster_id</c>, <c>tags</c>, <c>nodes</c>, <c>edges</c> and <c>status</c> (draft or published; archiving, which
/// removes the workflow's resources, is <c>PUT …/status</c>). A body with none of them is a 400
/// <c>No valid fields to update</c>. Answers the updated workflow.</summary>
public static class UpdateWorkflow
{
    public sealed record Body
    {
        public string? Name { get; init; }

        public string? Description { get; init; }

        [JsonPropertyName("cluster_id")]
        public string? ClusterIdSnake { get; init; }

        public string? ClusterId { get; init; }

        public List<string>? Tags { get; init; }

        public JsonNode? Nodes { get; init; }

        public JsonNode? Edges { get; init; }

        public string? Status { get; init; }
    }

    public sealed record Command(Guid Id, Body Body) : ICommand<WorkflowView>
    {
        public string? Cluster => (Body.ClusterIdSnake ?? Body.ClusterId)?.Trim();
    }

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator()
        {
            RuleFor(command => command.Id).NotEmpty();
            RuleFor(command => command.Body.Name).Must(name => name is null || name.Trim().Length is > 0 and <= 200)
                .WithMessage("name must be 1 to 200 characters").OverridePropertyName("name");
            RuleFor(command => command.Body.Description).MaximumLength(2000).OverridePropertyName("description");
            RuleFor(command => command.Cluster).MaximumLength(100).OverridePropertyName("cluster_id");
            RuleFor(command => command.Body.Tags).Must(tags => tags is null || (tags.Count <= 20 && tags.All(tag => tag?.Trim().Length is > 0 and <= 50)))
                .WithMessage("tags: at most 20, each 1 to 50 characters").OverridePropertyName("tags");
            RuleFor(command => command.Body.Status).Must(status => status is null or "draft" or "published")
                .WithMessage("status must be draft or published here; archive with PUT /v1/api/workflows/{id}/status").OverridePropertyName("status");
            RuleFor(command => command).Must(command => command.Body is { Name: not null } or { Description: not null } or { Tags: not null } or { Nodes: not null } or { Edges: not null } or { Status: not null } || command.Cluster is not null)
                .WithMessage("No valid fields to update").OverridePropertyName("body");
            RuleFor(command => command).Custom((command, context) =>
            {
                if (command.Body.Nodes is not null || command.Body.Edges is not null)
                {
                    foreach (var problem in WorkflowGraph.Check(command.Body.Nodes ?? new JsonArray(), command.Body.Edges ?? new JsonArray(), out _))
                    {
                        context.AddFailure(problem.Field, problem.Message);
                    }
                }
            });
        }
    }

    internal sealed class Handler(DbSession db, RequestContext request, ClusterDirectory directory, AuditTrail audit) : IRequestHandler<Command, WorkflowView>
    {
        private const string Update = """
            UPDATE delivery.workflows SET
                name = COALESCE(@Name, name),
                description = COALESCE(@Description, description),
                cluster_id = COALESCE(@ClusterId, cluster_id),
                tags = COALESCE(@Tags, tags),
                nodes = COALESCE(CAST(@Nodes AS jsonb), nodes),
                edges = COALESCE(CAST(@Edges AS jsonb), edges),
                status = COALESCE(@Status, status),
                updated_at = now()
            WHERE id = @Id
            """;

        public async Task<WorkflowView> Handle(Command command, CancellationToken cancellationToken)
        {
            var caller = request.RequiredCaller;
            var existing = await WorkflowStore.GetOwnedAsync(db, command.Id, caller.UserId, cancellationToken, forUpdate: true);
            if (command.Cluster is { Length: > 0 } cluster && await directory.FindVisibleAsync(cluster, caller, cancellationToken) is null)
            {
                throw new NotFoundException($"Cluster '{cluster}' not found");
            }

            var body = command.Body;
            var nodes = body.Nodes is JsonArray sent ? WorkflowStore.Tidy(sent) : null;
            if (nodes is not null && body.Edges is null)
            {
                // New nodes with the stored edges must still be a valid graph.
                if (WorkflowGraph.Check(nodes, JsonNode.Parse(existing.Edges), out _) is { Count: > 0 } problems)
                {
                    throw BadRequestException.ForField(problems[0].Field, problems[0].Message);
                }
            }
            else if (nodes is null && body.Edges is not null && WorkflowGraph.Check(JsonNode.Parse(existing.Nodes), body.Edges, out _) is { Count: > 0 } edgeProblems)
            {
                throw BadRequestException.ForField(edgeProblems[0].Field, edgeProblems[0].Message);
            }

            await db.ExecuteAsync(
                Update,
                new
                {
                    command.Id,
                    Name = body.Name?.Trim(),
                    Description = body.Description?.Trim(),
                    ClusterId = command.Cluster,
                    Tags = body.Tags?.Select(tag => tag.Trim()).Distinct().ToArray(),
                    Nodes = nodes?.ToJsonString(),
                    Edges = (body.Edges as JsonArray)?.ToJsonString(),
                    body.Status,
                },
                cancellationToken);
            var updated = await WorkflowStore.GetOwnedAsync(db, command.Id, caller.UserId, cancellationToken);
            audit.Record("delivery.workflow.update", "workflow", updated.Id.ToString(), updated.Name, new
            {
                fields = new[] { body.Name is null ? null : "name", body.Description is null ? null : "description", command.Cluster is null ? null : "cluster_id", body.Tags is null ? null : "tags", body.Nodes is null ? null : "nodes", body.Edges is null ? null : "edges", body.Status is null ? null : "status" }.OfType<string>(),
            });
            return WorkflowStore.View(updated);
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPut("/v1/api/workflows/{id}", async (Guid id, Body body, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Command(id, body), cancellationToken)))
                .RequirePermission(Permissions.DeliveryEdit)
                .WithName("Delivery" + nameof(UpdateWorkflow))
                .WithTags(DeliveryRoutes.Workflows)
                .WithSummary("Update workflow metadata")
                .ProducesErrors(400, 401, 403, 404);
    }
}

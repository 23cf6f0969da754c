using System.Text.Json;
using System.Text.Json.Serialization;
using Capstan.Infrastructure.Audit;
using Capstan.Infrastructure.Data;
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

namespace Capstan.Features.Access.Jobs;

/// <summary><c>POST /api/v1/jobs</c> (seed 003, admin) <c>{job_type, agent_scope?, payload?, request_id?,
/// correlation_id?}</c>: queues a job for the agents by hand (sync, discover, verify, delete…). Only agents whose scope
/// contains <c>agent_scope</c> claim it. A request's own patch or read job is queued by its approval, never by hand (400).
/// 201 <c>{id, correlation_id, status}</c>.</summary>
public static class EnqueueJob
{
    public static readonly string[] JobTypes = ["sync", "discover", "verify", "delete", "patch", "read"];

    public sealed record Command(
        [property: JsonPropertyName("job_type")] string? JobType,
        [property: JsonPropertyName("agent_scope")] JsonElement? AgentScope,
        [property: JsonPropertyName("payload")] JsonElement? Payload,
        [property: JsonPropertyName("request_id")] Guid? RequestId,
        [property: JsonPropertyName("correlation_id")] Guid? CorrelationId) : ICommand<QueuedJob>;

    public sealed record QueuedJob(
        [property: JsonPropertyName("id")] Guid Id,
        [property: JsonPropertyName("correlation_id")] Guid CorrelationId,
        [property: JsonPropertyName("status")] string Status);

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator()
        {
            RuleFor(command => command.JobType).NotEmpty().WithMessage("job_type is required")
                .Must(type => type is null || JobTypes.Contains(type)).WithMessage($"job_type must be one of: {string.Join(", ", JobTypes)}");
            RuleFor(command => command.AgentScope).Must(AccessJson.IsStringMap).WithMessage("agent_scope must be an object of strings");
            RuleFor(command => command.Payload).Must(AccessJson.IsObjectOrAbsent).WithMessage("payload must be a JSON object");
        }
    }

    internal sealed class Handler(DbSession db, RequestContext request, AuditTrail audit) : IRequestHandler<Command, QueuedJob>
    {
        private const string RequestExists = "SELECT EXISTS (SELECT 1 FROM access.requests WHERE id = @Id)";

        private const string Insert = """
            INSERT INTO access.jobs (id, job_type, agent_scope, status, correlation_id, request_id, payload, created_by)
            VALUES (@Id, @JobType, CAST(@AgentScope AS jsonb), 'queued', @CorrelationId, @RequestId, CAST(@Payload AS jsonb), @CreatedBy)
            """;

        public async Task<QueuedJob> Handle(Command command, CancellationToken cancellationToken)
        {
            if (command.RequestId is { } requestId)
            {
                if (!await db.QuerySingleAsync<bool>(RequestExists, new { Id = requestId }, cancellationToken))
                {
                    throw BadRequestException.ForField("request_id", "request_id does not name a request");
                }

                if (command.JobType is "patch" or "read")
                {
                    throw BadRequestException.ForField("job_type", "a request's patch or read job is queued by its approval, not by hand");
                }
            }

            var id = Guid.CreateVersion7();
            var correlationId = command.CorrelationId ?? command.RequestId ?? Guid.CreateVersion7();
            audit.CorrelationId = correlationId;
            await db.ExecuteAsync(
                Insert,
                new
                {
                    Id = id,
                    command.JobType,
                    AgentScope = AccessJson.TextOf(command.AgentScope),
                    CorrelationId = correlationId,
                    command.RequestId,
                    Payload = AccessJson.TextOf(command.Payload),
                    CreatedBy = request.RequiredCaller.UserId,
                },
                cancellationToken);
            audit.Record("job.enqueue", "job", id.ToString(), null, new { job_type = command.JobType, request_id = command.RequestId, manual = true });
            return new QueuedJob(id, correlationId, "queued");
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/api/v1/jobs", async (Command command, IMediator mediator, CancellationToken cancellationToken) =>
                {
                    var job = await mediator.Send(command, cancellationToken);
                    return TypedResults.Created((string?)null, job);
                })
                .RequirePermission(Permissions.JobEnqueue)
                .WithName(nameof(EnqueueJob))
                .WithTags(AccessRoutes.Jobs)
                .WithSummary("Queue a job for the agents")
                .ProducesErrors(400, 401, 403);
    }
}

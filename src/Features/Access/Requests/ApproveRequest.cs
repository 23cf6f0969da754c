using System.Text.Json.Serialization;
using Capstan.Infrastructure.Audit;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Http;
using Capstan.Infrastructure.Mediation;
using Capstan.Infrastructure.Routing;
using Capstan.Infrastructure.Security;
using FluentValidation;
using MediatR;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Capstan.Features.Access.Requests;

/// <summary><c>POST /api/v1/requests/{id}/approve</c> (seed 003) <c>{approver_id?, comment?}</c>: the caller votes to
/// approve. When the approvals reach the workflow's threshold the request becomes <c>approved</c> and its job is queued —
/// vote, transition and job in one transaction under the request's row lock, so concurrent final votes approve once and
/// queue one job. Returns the request with its votes.</summary>
public static class ApproveRequest
{
    public sealed record Command(Guid Id, string? ApproverId, string? Comment) : ICommand<RequestBody>;

    public sealed record Body(
        [property: JsonPropertyName("approver_id")] string? ApproverId,
        [property: JsonPropertyName("comment")] string? Comment);

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator() => RuleFor(command => command.Comment).MaximumLength(4000).OverridePropertyName("comment");
    }

    internal sealed class Handler(DbSession db, RequestContext request, AuditTrail audit, AccessMetrics metrics) : IRequestHandler<Command, RequestBody>
    {
        private const string Vote = """
            INSERT INTO access.approvals (id, request_id, approver_id, decision, comment)
            VALUES (@Id, @RequestId, @ApproverId, 'approve', @Comment)
            """;

        private const string Approvals = "SELECT count(*) FROM access.approvals WHERE request_id = @RequestId AND decision = 'approve'";

        public async Task<RequestBody> Handle(Command command, CancellationToken cancellationToken)
        {
            var caller = request.RequiredCaller;
            request.CallerIdMatching(command.ApproverId, "approver_id");
            audit.CorrelationId = command.Id;
            var (row, workflow) = await RequestVotes.PrepareAsync(db, caller, command.Id, cancellationToken);

            await db.ExecuteAsync(
                Vote,
                new { Id = Guid.CreateVersion7(), RequestId = row.Id, ApproverId = caller.UserId, Comment = string.IsNullOrWhiteSpace(command.Comment) ? null : command.Comment.Trim() },
                cancellationToken);
            var approvals = await db.QuerySingleAsync<long>(Approvals, new { RequestId = row.Id }, cancellationToken);
            var approved = approvals >= workflow.Threshold
                && await RequestTransitions.ApproveAsync(db, audit, metrics, row, workflow, caller.UserId, "threshold_reached", cancellationToken) is not null;
            audit.Record("request.approve", "request", row.Id.ToString(), null, new { approves = approvals, required = workflow.Threshold, became_approved = approved });

            var current = await db.QuerySingleAsync<RequestRow>(RequestRecords.ById, new { row.Id }, cancellationToken);
            return await RequestRecords.ToBodyAsync(db, current, cancellationToken);
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/api/v1/requests/{id}/approve", async (Guid id, Body? body, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Command(id, body?.ApproverId, body?.Comment), cancellationToken)))
                .RequirePermission(Permissions.SecretApprove)
                .WithName(nameof(ApproveRequest))
                .WithTags(AccessRoutes.Requests)
                .WithSummary("Approve a pending request")
                .ProducesErrors(400, 401, 403, 404, 409);
    }
}

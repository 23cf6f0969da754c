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

/// <summary><c>POST /api/v1/requests/{id}/reject</c> (seed 003) <c>{approver_id?, reason}</c>: one reject vote rejects a
/// pending request at once (whatever approvals it already has); its wraps become unusable. Same vote rules as approve.</summary>
public static class RejectRequest
{
    public sealed record Command(Guid Id, string? ApproverId, string? Reason) : ICommand<RequestBody>;

    public sealed record Body(
        [property: JsonPropertyName("approver_id")] string? ApproverId,
        [property: JsonPropertyName("reason")] string? Reason);

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator() =>
            RuleFor(command => command.Reason).NotEmpty().WithMessage("reason is required").MaximumLength(4000)
                .Must(reason => !string.IsNullOrWhiteSpace(reason)).WithMessage("reason is required").OverridePropertyName("reason");
    }

    internal sealed class Handler(DbSession db, RequestContext request, AuditTrail audit, AccessMetrics metrics) : IRequestHandler<Command, RequestBody>
    {
        private const string Vote = """
            INSERT INTO access.approvals (id, request_id, approver_id, decision, comment)
            VALUES (@Id, @RequestId, @ApproverId, 'reject', @Reason)
            """;

        public async Task<RequestBody> Handle(Command command, CancellationToken cancellationToken)
        {
            var caller = request.RequiredCaller;
            request.CallerIdMatching(command.ApproverId, "approver_id");
            audit.CorrelationId = command.Id;
            var (row, _) = await RequestVotes.PrepareAsync(db, caller, command.Id, cancellationToken);
            var reason = command.Reason!.Trim();

            await db.ExecuteAsync(Vote, new { Id = Guid.CreateVersion7(), RequestId = row.Id, ApproverId = caller.UserId, Reason = reason }, cancellationToken);
            await RequestTransitions.CloseAsync(db, audit, metrics, row.Id, "rejected", reason, cancellationToken);
            audit.Record("request.reject", "request", row.Id.ToString(), null, new { reason });

            var current = await db.QuerySingleAsync<RequestRow>(RequestRecords.ById, new { row.Id }, cancellationToken);
            return await RequestRecords.ToBodyAsync(db, current, cancellationToken);
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/api/v1/requests/{id}/reject", async (Guid id, Body body, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Command(id, body.ApproverId, body.Reason), cancellationToken)))
                .RequirePermission(Permissions.SecretApprove)
                .WithName(nameof(RejectRequest))
                .WithTags(AccessRoutes.Requests)
                .WithSummary("Reject a pending request")
                .ProducesErrors(400, 401, 403, 404, 409);
    }
}

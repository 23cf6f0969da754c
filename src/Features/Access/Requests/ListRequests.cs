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

/// <summary><c>GET /api/v1/requests</c> (seed 003): requests newest first, filtered by <c>requester_id</c> (which may only
/// name the caller), <c>status</c>, <c>type</c> and <c>project_id</c>; <c>limit</c> (default 100, at most 1000) and
/// <c>offset</c>. Callers see their own requests plus those their <c>secret.approve</c> covers (all of them when it is
/// global, a project's when granted there). A bare array, as upstream.</summary>
public static class ListRequests
{
    public sealed record Query(string? RequesterId, string? Status, string? Type, Guid? ProjectId, int? Limit, int? Offset) : IQuery<IReadOnlyList<RequestBody>>;

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator()
        {
            RuleFor(query => query.Status).Must(status => status is null || AccessMetrics.RequestStatuses.Contains(status))
                .WithMessage($"status must be one of: {string.Join(", ", AccessMetrics.RequestStatuses)}");
            RuleFor(query => query.Type).Must(type => type is null or "read" or "patch").WithMessage("type must be read or patch");
            RuleFor(query => query.Limit).InclusiveBetween(1, 1000).When(query => query.Limit is not null);
            RuleFor(query => query.Offset).GreaterThanOrEqualTo(0).When(query => query.Offset is not null);
        }
    }

    internal sealed class Handler(DbSession db, RequestContext request) : IRequestHandler<Query, IReadOnlyList<RequestBody>>
    {
        private const string Select = $"""
            SELECT {RequestRow.Columns}
            FROM access.requests r
            WHERE (@Everyone OR r.requester_id = @Caller OR r.project_id = ANY(@Projects))
              AND (@OnlyMine = false OR r.requester_id = @Caller)
              AND (@Status::text IS NULL OR r.status = @Status)
              AND (@Type::text IS NULL OR r.type = @Type)
              AND (@ProjectId::uuid IS NULL OR r.project_id = @ProjectId)
            ORDER BY r.created_at DESC, r.id DESC
            LIMIT @Limit OFFSET @Offset
            """;

        public async Task<IReadOnlyList<RequestBody>> Handle(Query query, CancellationToken cancellationToken)
        {
            var caller = request.RequiredCaller;
            var onlyMine = !string.IsNullOrWhiteSpace(query.RequesterId);
            request.CallerIdMatching(query.RequesterId, "requester_id");
            var everyone = caller.Has(Permissions.SecretApprove);
            var projects = caller.ScopedGrants
                .Where(grant => grant.Permission == Permissions.SecretApprove && grant.Scope.ContainsKey("project_id"))
                .Select(grant => Guid.TryParse(grant.Scope["project_id"], out var id) ? id : Guid.Empty)
                .Where(id => id != Guid.Empty)
                .Distinct()
                .ToArray();
            var rows = await db.QueryAsync<RequestRow>(
                Select,
                new
                {
                    Everyone = everyone,
                    Caller = caller.UserId,
                    Projects = projects,
                    OnlyMine = onlyMine,
                    query.Status,
                    query.Type,
                    query.ProjectId,
                    Limit = query.Limit ?? 100,
                    Offset = query.Offset ?? 0,
                },
                cancellationToken);

            // A project grant may be narrower than its project (an environment): keep only what the caller may see.
            return await RequestRecords.ToBodiesAsync(db, [.. rows.Where(row => RequestRecords.CanSee(caller, row))], cancellationToken);
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/requests", async (
                        [Microsoft.AspNetCore.Mvc.FromQuery(Name = "requester_id")] string? requesterId,
                        string? status,
                        string? type,
                        [Microsoft.AspNetCore.Mvc.FromQuery(Name = "project_id")] Guid? projectId,
                        int? limit,
                        int? offset,
                        IMediator mediator,
                        CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(requesterId, status, type, projectId, limit, offset), cancellationToken)))
                .RequirePermission(Permissions.AccessRead)
                .WithName(nameof(ListRequests))
                .WithTags(AccessRoutes.Requests)
                .WithSummary("List access requests you may see")
                .ProducesErrors(400, 401, 403);
    }
}

using System.Text.Json.Nodes;
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

namespace Capstan.Features.Delivery.Resources;

/// <summary><c>GET /v1/api/resources/{id}</c> (seed 002): one of the caller's tracked resources with its history
/// (newest first, at most 50; each <c>{id, resourceId, userId, action, changes, oldStatus, newStatus, message, timestamp}</c> as reference §4 names them) → <c>{resource, history}</c>; 404 <c>Resource not found</c> for anyone else's.</summary>
public static class GetResource
{
    public sealed record Query(Guid Id) : IQuery<Response>;

    public sealed record HistoryEntry(Guid Id, Guid ResourceId, Guid UserId, string Action, JsonNode? Changes, string? OldStatus, string? NewStatus, string Message, DateTime Timestamp);

    public sealed class HistoryRow
    {
        public Guid Id { get; init; }

        public Guid ResourceId { get; init; }

        public Guid UserId { get; init; }

        public string Action { get; init; } = string.Empty;

        public string Changes { get; init; } = "{}";

        public string? OldStatus { get; init; }

        public string? NewStatus { get; init; }

        public string Message { get; init; } = string.Empty;

        public DateTime CreatedAt { get; init; }
    }

    public sealed record Response(ResourceView Resource, IReadOnlyList<HistoryEntry> History);

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator() => RuleFor(query => query.Id).NotEmpty();
    }

    internal sealed class Handler(DbSession db, RequestContext request) : IRequestHandler<Query, Response>
    {
        public async Task<Response> Handle(Query query, CancellationToken cancellationToken)
        {
            var resource = await TrackedResources.GetOwnedAsync(db, query.Id, request.RequiredCaller.UserId, cancellationToken);
            var history = await db.QueryAsync<HistoryRow>(
                """
                SELECT id, resource_id, user_id, action, changes::text AS changes, old_status, new_status, message, created_at
                FROM delivery.resource_history WHERE resource_id = @Id ORDER BY created_at DESC, id DESC LIMIT 50
                """,
                new { query.Id },
                cancellationToken);
            return new Response(
                TrackedResources.View(resource),
                [.. history.Select(row => new HistoryEntry(row.Id, row.ResourceId, row.UserId, row.Action, JsonNode.Parse(row.Changes), row.OldStatus, row.NewStatus, row.Message, row.CreatedAt))]);
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/v1/api/resources/{id}", async (Guid id, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(id), cancellationToken)))
                .RequirePermission(Permissions.DeliveryRead)
                .WithName("Delivery" + nameof(GetResource))
                .WithTags(DeliveryRoutes.Resources)
                .WithSummary("Get a specific resource")
                .ProducesErrors(400, 401, 403, 404);
    }
}

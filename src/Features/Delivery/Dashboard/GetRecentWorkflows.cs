using System.Text.Json.Serialization;
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

namespace Capstan.Features.Delivery.Dashboard;

/// <summary><c>GET /v1/api/dashboard/recent-workflows?limit=</c> (seed 002): the caller's most recently changed
/// workflows (<c>limit</c> 1–20, default 5), without their graphs.</summary>
public static class GetRecentWorkflows
{
    public sealed record Query(int Limit) : IQuery<Response>;

    public sealed record Response([property: JsonPropertyName("workflows")] IReadOnlyList<WorkflowView> Workflows);

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator() => RuleFor(query => query.Limit).InclusiveBetween(1, 20).OverridePropertyName("limit");
    }

    internal sealed class Handler(DbSession db, RequestContext request) : IRequestHandler<Query, Response>
    {
        public async Task<Response> Handle(Query query, CancellationToken cancellationToken)
        {
            var rows = await db.QueryAsync<WorkflowRow>(
                $"SELECT {WorkflowStore.Columns} FROM delivery.workflows w WHERE w.owner_id = @OwnerId AND w.deleted_at IS NULL ORDER BY w.updated_at DESC, w.id DESC LIMIT @Limit",
                new { OwnerId = request.RequiredCaller.UserId, query.Limit },
                cancellationToken);
            return new Response([.. rows.Select(row => WorkflowStore.View(row, withGraph: false))]);
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/v1/api/dashboard/recent-workflows", async (int? limit, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(limit ?? 5), cancellationToken)))
                .RequirePermission(Permissions.DeliveryRead)
                .WithName("Delivery" + nameof(GetRecentWorkflows))
                .WithTags(DeliveryRoutes.Dashboard)
                .WithSummary("Get recent workflows")
                .ProducesErrors(400, 401, 403);
    }
}

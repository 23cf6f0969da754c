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

/// <summary><c>GET /v1/api/workflows/{id}</c> (seed 002): the caller's workflow with its nodes and edges (node
/// <c>data._status</c> as the last run left it). Another user's or a deleted workflow is a 404.</summary>
public static class GetWorkflow
{
    public sealed record Query(Guid Id) : IQuery<WorkflowView>;

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator() => RuleFor(query => query.Id).NotEmpty();
    }

    internal sealed class Handler(DbSession db, RequestContext request) : IRequestHandler<Query, WorkflowView>
    {
        public async Task<WorkflowView> Handle(Query query, CancellationToken cancellationToken) =>
            WorkflowStore.View(await WorkflowStore.GetOwnedAsync(db, query.Id, request.RequiredCaller.UserId, cancellationToken));
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/v1/api/workflows/{id}", async (Guid id, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(id), cancellationToken)))
                .RequirePermission(Permissions.DeliveryRead)
                .WithName("Delivery" + nameof(GetWorkflow))
                .WithTags(DeliveryRoutes.Workflows)
                .WithSummary("Get a specific workflow")
                .ProducesErrors(400, 401, 403, 404);
    }
}

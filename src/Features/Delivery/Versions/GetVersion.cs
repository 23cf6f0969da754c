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

namespace Capstan.Features.Delivery.Versions;

/// <summary><c>GET /v1/api/workflows/{id}/versions/{version}</c> (seed 002): one version with its nodes and edges; an
/// unknown number is a 404 <c>Version not found</c>, a non-number a 400.</summary>
public static class GetVersion
{
    public sealed record Query(Guid Id, long Version) : IQuery<VersionView>;

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator()
        {
            RuleFor(query => query.Id).NotEmpty();
            RuleFor(query => query.Version).GreaterThan(0).WithMessage("Invalid version number");
        }
    }

    internal sealed class Handler(DbSession db, RequestContext request) : IRequestHandler<Query, VersionView>
    {
        public async Task<VersionView> Handle(Query query, CancellationToken cancellationToken)
        {
            await WorkflowStore.GetOwnedAsync(db, query.Id, request.RequiredCaller.UserId, cancellationToken);
            return WorkflowVersions.View(await WorkflowVersions.GetAsync(db, query.Id, query.Version, cancellationToken));
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/v1/api/workflows/{id}/versions/{version}", async (Guid id, long version, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(id, version), cancellationToken)))
                .RequirePermission(Permissions.DeliveryRead)
                .WithName("Delivery" + nameof(GetVersion))
                .WithTags(DeliveryRoutes.Versions)
                .WithSummary("Get a specific version")
                .ProducesErrors(400, 401, 403, 404);
    }
}

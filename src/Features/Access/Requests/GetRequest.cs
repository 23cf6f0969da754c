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

namespace Capstan.Features.Access.Requests;

/// <summary><c>GET /api/v1/requests/{id}</c> (seed 003): one request with its votes inline (<c>approvals</c>, oldest
/// first). Requests the caller may not see are a 404.</summary>
public static class GetRequest
{
    public sealed record Query(Guid Id) : IQuery<RequestBody>;

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator() => RuleFor(query => query.Id).NotEmpty();
    }

    internal sealed class Handler(DbSession db, RequestContext request) : IRequestHandler<Query, RequestBody>
    {
        public async Task<RequestBody> Handle(Query query, CancellationToken cancellationToken)
        {
            var row = await db.QuerySingleOrDefaultAsync<RequestRow>(RequestRecords.ById, new { query.Id }, cancellationToken);
            if (row is null || !RequestRecords.CanSee(request.RequiredCaller, row))
            {
                throw new NotFoundException("request not found");
            }

            return await RequestRecords.ToBodyAsync(db, row, cancellationToken);
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/requests/{id}", async (Guid id, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(id), cancellationToken)))
                .RequirePermission(Permissions.AccessRead)
                .WithName(nameof(GetRequest))
                .WithTags(AccessRoutes.Requests)
                .WithSummary("Get an access request with its approvals")
                .ProducesErrors(400, 401, 403, 404);
    }
}

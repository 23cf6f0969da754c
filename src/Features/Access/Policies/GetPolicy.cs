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

namespace Capstan.Features.Access.Policies;

/// <summary><c>GET /api/v1/policies/{id}</c> (seed 003): one policy rule.</summary>
public static class GetPolicy
{
    public sealed record Query(Guid Id) : IQuery<PolicyBody>;

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator() => RuleFor(query => query.Id).NotEmpty();
    }

    internal sealed class Handler(DbSession db) : IRequestHandler<Query, PolicyBody>
    {
        private const string Select = $"SELECT {PolicyRow.Columns} FROM access.policies WHERE id = @Id";

        public async Task<PolicyBody> Handle(Query query, CancellationToken cancellationToken) =>
            (await db.QuerySingleOrDefaultAsync<PolicyRow>(Select, new { query.Id }, cancellationToken) ?? throw new NotFoundException("policy not found")).ToBody();
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/policies/{id}", async (Guid id, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(id), cancellationToken)))
                .RequirePermission(Permissions.AccessRead)
                .WithName(nameof(GetPolicy))
                .WithTags(AccessRoutes.Policies)
                .WithSummary("Get a policy rule")
                .ProducesErrors(400, 401, 403, 404);
    }
}

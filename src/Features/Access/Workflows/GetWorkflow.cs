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

namespace Capstan.Features.Access.Workflows;

/// <summary><c>GET /api/v1/workflows/{id}</c> (seed 003): one approval workflow.</summary>
public static class GetWorkflow
{
    public sealed record Query(Guid Id) : IQuery<WorkflowBody>;

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator() => RuleFor(query => query.Id).NotEmpty();
    }

    internal sealed class Handler(DbSession db) : IRequestHandler<Query, WorkflowBody>
    {
        private const string Select = $"SELECT {WorkflowRow.Columns} FROM access.workflows WHERE id = @Id";

        public async Task<WorkflowBody> Handle(Query query, CancellationToken cancellationToken) =>
            (await db.QuerySingleOrDefaultAsync<WorkflowRow>(Select, new { query.Id }, cancellationToken) ?? throw new NotFoundException("workflow not found")).ToBody();
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/workflows/{id}", async (Guid id, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(id), cancellationToken)))
                .RequirePermission(Permissions.AccessRead)
                .WithName(nameof(GetWorkflow))
                .WithTags(AccessRoutes.Workflows)
                .WithSummary("Get an approval workflow")
                .ProducesErrors(400, 401, 403, 404);
    }
}

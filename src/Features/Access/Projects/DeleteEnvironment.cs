using Capstan.Infrastructure.Audit;
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

namespace Capstan.Features.Access.Projects;

/// <summary><c>DELETE /api/v1/environments/{id}</c> (seed 003): 204. Requests keep the environment's name; their link to
/// the row is cleared. An environment with pending or in-flight requests cannot go (409).</summary>
public static class DeleteEnvironment
{
    public sealed record Command(Guid Id) : ICommand<Unit>;

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator() => RuleFor(command => command.Id).NotEmpty();
    }

    internal sealed class Handler(DbSession db, AuditTrail audit) : IRequestHandler<Command, Unit>
    {
        private const string Current = "SELECT name, project_id FROM access.environments WHERE id = @Id FOR UPDATE";

        private const string Open = """
            SELECT EXISTS (SELECT 1 FROM access.requests WHERE environment_id = @Id AND status IN ('pending', 'approved'))
            """;

        private const string Delete = "DELETE FROM access.environments WHERE id = @Id";

        public async Task<Unit> Handle(Command command, CancellationToken cancellationToken)
        {
            var current = await db.QuerySingleOrDefaultAsync<(string Name, Guid ProjectId)?>(Current, new { command.Id }, cancellationToken)
                ?? throw new NotFoundException("environment not found");
            if (await db.QuerySingleAsync<bool>(Open, new { command.Id }, cancellationToken))
            {
                throw new ConflictException("the environment has pending or approved requests");
            }

            await db.ExecuteAsync(Delete, new { command.Id }, cancellationToken);
            audit.Record("environment.delete", "environment", command.Id.ToString(), current.Name, new { project_id = current.ProjectId });
            return Unit.Value;
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapDelete("/api/v1/environments/{id}", async (Guid id, IMediator mediator, CancellationToken cancellationToken) =>
                {
                    await mediator.Send(new Command(id), cancellationToken);
                    return TypedResults.NoContent();
                })
                .RequirePermission(Permissions.ProjectEdit)
                .WithName(nameof(DeleteEnvironment))
                .WithTags(AccessRoutes.Tenancy)
                .WithSummary("Delete an environment")
                .ProducesErrors(400, 401, 403, 404, 409);
    }
}

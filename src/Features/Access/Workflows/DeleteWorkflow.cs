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

namespace Capstan.Features.Access.Workflows;

/// <summary><c>DELETE /api/v1/workflows/{id}</c> (seed 003, workflow.edit): 204; the policy rules pointing at it go with
/// it (as upstream). System workflows cannot be deleted (edit them instead), nor workflows that requests were pinned to
/// (disable them instead): both 409.</summary>
public static class DeleteWorkflow
{
    public sealed record Command(Guid Id) : ICommand<Unit>;

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator() => RuleFor(command => command.Id).NotEmpty();
    }

    internal sealed class Handler(DbSession db, AuditTrail audit) : IRequestHandler<Command, Unit>
    {
        private const string Current = "SELECT name, is_system FROM access.workflows WHERE id = @Id FOR UPDATE";

        private const string InUse = "SELECT EXISTS (SELECT 1 FROM access.requests WHERE workflow_id = @Id)";

        private const string Delete = "DELETE FROM access.workflows WHERE id = @Id";

        public async Task<Unit> Handle(Command command, CancellationToken cancellationToken)
        {
            var current = await db.QuerySingleOrDefaultAsync<(string Name, bool IsSystem)?>(Current, new { command.Id }, cancellationToken)
                ?? throw new NotFoundException("workflow not found");
            if (current.IsSystem)
            {
                throw new ConflictException("system row cannot be deleted (edit instead)");
            }

            if (await db.QuerySingleAsync<bool>(InUse, new { command.Id }, cancellationToken))
            {
                throw new ConflictException("requests were submitted under this workflow: disable it instead");
            }

            await db.ExecuteAsync(Delete, new { command.Id }, cancellationToken);
            audit.Record("workflow.delete", "workflow", command.Id.ToString(), current.Name);
            return Unit.Value;
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapDelete("/api/v1/workflows/{id}", async (Guid id, IMediator mediator, CancellationToken cancellationToken) =>
                {
                    await mediator.Send(new Command(id), cancellationToken);
                    return TypedResults.NoContent();
                })
                .RequirePermission(Permissions.WorkflowEdit)
                .WithName(nameof(DeleteWorkflow))
                .WithTags(AccessRoutes.Workflows)
                .WithSummary("Delete an approval workflow")
                .ProducesErrors(400, 401, 403, 404, 409);
    }
}

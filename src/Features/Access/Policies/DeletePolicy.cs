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

namespace Capstan.Features.Access.Policies;

/// <summary><c>DELETE /api/v1/policies/{id}</c> (seed 003, policy.edit): 204; system rules cannot be deleted (409, edit
/// or disable them instead).</summary>
public static class DeletePolicy
{
    public sealed record Command(Guid Id) : ICommand<Unit>;

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator() => RuleFor(command => command.Id).NotEmpty();
    }

    internal sealed class Handler(DbSession db, AuditTrail audit) : IRequestHandler<Command, Unit>
    {
        private const string Current = "SELECT name, is_system FROM access.policies WHERE id = @Id FOR UPDATE";

        private const string Delete = "DELETE FROM access.policies WHERE id = @Id";

        public async Task<Unit> Handle(Command command, CancellationToken cancellationToken)
        {
            var current = await db.QuerySingleOrDefaultAsync<(string Name, bool IsSystem)?>(Current, new { command.Id }, cancellationToken)
                ?? throw new NotFoundException("policy not found");
            if (current.IsSystem)
            {
                throw new ConflictException("system row cannot be deleted (edit instead)");
            }

            await db.ExecuteAsync(Delete, new { command.Id }, cancellationToken);
            audit.Record("policy.delete", "policy_rule", command.Id.ToString(), current.Name);
            return Unit.Value;
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapDelete("/api/v1/policies/{id}", async (Guid id, IMediator mediator, CancellationToken cancellationToken) =>
                {
                    await mediator.Send(new Command(id), cancellationToken);
                    return TypedResults.NoContent();
                })
                .RequirePermission(Permissions.PolicyEdit)
                .WithName(nameof(DeletePolicy))
                .WithTags(AccessRoutes.Policies)
                .WithSummary("Delete a policy rule")
                .ProducesErrors(400, 401, 403, 404, 409);
    }
}

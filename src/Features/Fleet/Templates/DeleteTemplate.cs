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

namespace Capstan.Features.Fleet.Templates;

/// <summary><c>DELETE /api/v1/templates/{id}</c> (seed 004, administrators): deletes the template (deployments made
/// from it keep their YAML) → <c>{message: "Template deleted", id, slug}</c>; 404.</summary>
public static class DeleteTemplate
{
    public sealed record Command(Guid Id) : ICommand<Response>;

    public sealed record Response(string Message, Guid Id, string Slug);

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator() => RuleFor(command => command.Id).NotEmpty();
    }

    internal sealed class Handler(DbSession db, AuditTrail audit) : IRequestHandler<Command, Response>
    {
        private const string Delete = "DELETE FROM fleet.deployment_templates WHERE id = @Id RETURNING slug";

        public async Task<Response> Handle(Command command, CancellationToken cancellationToken)
        {
            var slug = await db.QuerySingleOrDefaultAsync<string>(Delete, new { command.Id }, cancellationToken)
                ?? throw new NotFoundException($"Template '{command.Id}' not found");
            audit.Record("template.delete", "template", command.Id.ToString(), slug);
            return new Response("Template deleted", command.Id, slug);
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapDelete("/api/v1/templates/{id}", async (Guid id, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Command(id), cancellationToken)))
                .RequirePermission(Permissions.TemplateDelete)
                .WithName(nameof(DeleteTemplate))
                .WithTags(FleetRoutes.Templates)
                .WithSummary("Delete a template")
                .ProducesErrors(400, 401, 403, 404);
    }
}

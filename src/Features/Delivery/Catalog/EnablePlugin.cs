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

namespace Capstan.Features.Delivery.Catalog;

/// <summary><c>POST /v1/api/plugins/{id}/enable</c> (seed 002): enables the plugin for the caller only (its node types
/// then appear among their templates and can be deployed; nothing is installed in a cluster). Idempotent; unknown id → 404.</summary>
public static class EnablePlugin
{
    public sealed record Command(string Id) : ICommand<Response>;

    public sealed record Response(string Message);

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator() => RuleFor(command => command.Id).NotEmpty().MaximumLength(100);
    }

    internal sealed class Handler(DbSession db, RequestContext request, AuditTrail audit) : IRequestHandler<Command, Response>
    {
        public async Task<Response> Handle(Command command, CancellationToken cancellationToken)
        {
            if (!await db.ExecuteScalarAsync<bool>("SELECT EXISTS (SELECT 1 FROM delivery.plugins WHERE id = @Id)", new { command.Id }, cancellationToken))
            {
                throw new NotFoundException("Plugin not found");
            }

            await db.ExecuteAsync(
                """
                INSERT INTO delivery.user_plugins (user_id, plugin_id, status, enabled_at, updated_at)
                VALUES (@UserId, @Id, 'enabled', CASE WHEN 'enabled' = 'enabled' THEN now() END, now())
                ON CONFLICT (user_id, plugin_id) DO UPDATE SET status = EXCLUDED.status,
                    enabled_at = CASE WHEN EXCLUDED.status = 'enabled' AND delivery.user_plugins.status <> 'enabled' THEN now() ELSE delivery.user_plugins.enabled_at END,
                    updated_at = now()
                """,
                new { request.RequiredCaller.UserId, command.Id },
                cancellationToken);
            audit.Record("delivery.plugin.enable", "plugin", command.Id, command.Id);
            return new Response("Plugin enabled successfully");
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/v1/api/plugins/{id}/enable", async (string id, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Command(id.Trim()), cancellationToken)))
                .RequirePermission(Permissions.DeliveryEdit)
                .WithName("Delivery" + nameof(EnablePlugin))
                .WithTags(DeliveryRoutes.Catalog)
                .WithSummary("Enable a plugin")
                .ProducesErrors(400, 401, 403, 404);
    }
}

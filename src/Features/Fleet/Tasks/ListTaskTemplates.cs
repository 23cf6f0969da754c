using Capstan.Infrastructure.Http;
using Capstan.Infrastructure.Mediation;
using Capstan.Infrastructure.Routing;
using Capstan.Infrastructure.Security;
using MediatR;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Capstan.Features.Fleet.Tasks;

/// <summary><c>GET /api/v1/tasks/templates</c> (seed 004): the task templates a task can start from →
/// <c>{templates: [{key, name, description, cron, command, timeoutSec, category}], data}</c>.</summary>
public static class ListTaskTemplates
{
    public sealed record Query : IQuery<Response>;

    public sealed record Response(IReadOnlyList<TaskTemplates.Template> Templates, IReadOnlyList<TaskTemplates.Template> Data);

    internal sealed class Handler : IRequestHandler<Query, Response>
    {
        public Task<Response> Handle(Query query, CancellationToken cancellationToken) => Task.FromResult(new Response(TaskTemplates.All, TaskTemplates.All));
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/tasks/templates", async (IMediator mediator, CancellationToken cancellationToken) => TypedResults.Ok(await mediator.Send(new Query(), cancellationToken)))
                .RequirePermission(Permissions.FleetRead)
                .WithName(nameof(ListTaskTemplates))
                .WithTags(FleetRoutes.Tasks)
                .WithSummary("List task templates")
                .ProducesErrors(401, 403);
    }
}

using Capstan.Infrastructure.Backups;
using Capstan.Infrastructure.Http;
using Capstan.Infrastructure.Mediation;
using Capstan.Infrastructure.Routing;
using Capstan.Infrastructure.Security;
using MediatR;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Capstan.Features.Platform;

/// <summary><c>GET /api/v1/admin/backups</c> (seed 000): the backups on disk, newest first, as
/// <c>{backups:[{filename, sizeBytes, createdAt, encrypted}]}</c>.</summary>
public static class ListBackups
{
    public sealed record Query : IQuery<Response>;

    public sealed record Response(IReadOnlyList<BackupInfo> Backups);

    internal sealed class Handler(BackupStore store) : IRequestHandler<Query, Response>
    {
        public Task<Response> Handle(Query request, CancellationToken cancellationToken) => Task.FromResult(new Response(store.List()));
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/admin/backups", async (IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(), cancellationToken)))
                .RequirePermission(Permissions.BackupManage)
                .WithName(nameof(ListBackups))
                .WithTags(PlatformRoutes.Tag)
                .WithSummary("List database backups")
                .ProducesErrors(401, 403);
    }
}

using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Http;
using Capstan.Infrastructure.Mediation;
using Capstan.Infrastructure.Routing;
using Capstan.Infrastructure.Security;
using Capstan.Infrastructure.Settings;
using MediatR;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Capstan.Features.Identity;

/// <summary><c>GET /api/v1/admin/settings</c> (seed 000, admin): every setting as
/// <c>{"settings": {field: {value, overriddenByEnv}}}</c>; an environment variable decides (and locks) a field, then the
/// stored value, then the default.</summary>
public static class GetSettings
{
    public sealed record Query : IQuery<Response>;

    public sealed record Response(IReadOnlyDictionary<string, SettingValue> Settings);

    internal sealed class Handler(DbSession db, AuthSettings settings) : IRequestHandler<Query, Response>
    {
        public async Task<Response> Handle(Query query, CancellationToken cancellationToken) =>
            new(await settings.ReadAllAsync(db, cancellationToken));
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/admin/settings", async (IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(), cancellationToken)))
                .RequirePermission(Permissions.SettingsRead)
                .WithName(nameof(GetSettings))
                .WithTags(IdentityRoutes.Admin)
                .WithSummary("Read the admin settings")
                .ProducesErrors(401, 403);
    }
}

using Capstan.Infrastructure.Audit;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Http;
using Capstan.Infrastructure.Mediation;
using Capstan.Infrastructure.Routing;
using Capstan.Infrastructure.Security;
using Capstan.Infrastructure.Settings;
using FluentValidation;
using MediatR;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Capstan.Features.Delivery.Settings;

/// <summary><c>GET /v1/api/settings/regenerate-setting</c> (seed 002, admins): whether a new invite code is made after
/// each sign-up, and the current code → <c>{regenerateAfterSignup, inviteCode}</c>.</summary>
public static class GetRegenerateSetting
{
    [NotAudited("reading the setting only makes an invite code when there is none")]
    public sealed record Command : ICommand<Response>;

    public sealed record Response(bool RegenerateAfterSignup, string InviteCode);

    internal sealed class Handler(DbSession db, RequestContext request) : IRequestHandler<Command, Response>
    {
        public async Task<Response> Handle(Command command, CancellationToken cancellationToken) =>
            new(await InviteCodes.RegenerateAsync(db, cancellationToken), await InviteCodes.EnsureCodeAsync(db, request.RequiredCaller.UserId, cancellationToken));
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/v1/api/settings/regenerate-setting", async (IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Command(), cancellationToken)))
                .RequirePermission(Permissions.InviteManage)
                .WithName("Delivery" + nameof(GetRegenerateSetting))
                .WithTags(DeliveryRoutes.Settings)
                .WithSummary("Get auto-regenerate setting")
                .ProducesErrors(401, 403);
    }
}

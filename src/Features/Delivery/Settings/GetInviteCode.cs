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

/// <summary><c>GET /v1/api/settings/invite-code</c> (seed 002, admins): the sign-up invite code → <c>{inviteCode}</c>;
/// one is made when there is none yet (so this read may write). The UI links <c>/signup?invite=&lt;code&gt;</c>.</summary>
public static class GetInviteCode
{
    [NotAudited("reading the invite code only makes one when there is none")]
    public sealed record Command : ICommand<Response>;

    public sealed record Response(string InviteCode);

    internal sealed class Handler(DbSession db, RequestContext request) : IRequestHandler<Command, Response>
    {
        public async Task<Response> Handle(Command command, CancellationToken cancellationToken) =>
            new(await InviteCodes.EnsureCodeAsync(db, request.RequiredCaller.UserId, cancellationToken));
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/v1/api/settings/invite-code", async (IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Command(), cancellationToken)))
                .RequirePermission(Permissions.InviteManage)
                .WithName("Delivery" + nameof(GetInviteCode))
                .WithTags(DeliveryRoutes.Settings)
                .WithSummary("Get current invite code")
                .ProducesErrors(401, 403);
    }
}

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

/// <summary><c>POST /v1/api/settings/generate-invite-code</c> (seed 002, admins): replaces the invite code with a new
/// six-digit one (the old one stops working) → <c>{inviteCode}</c>. The code itself is not audited.</summary>
public static class GenerateInviteCode
{
    public sealed record Command : ICommand<Response>;

    public sealed record Response(string InviteCode);

    internal sealed class Handler(DbSession db, RequestContext request, AuditTrail audit) : IRequestHandler<Command, Response>
    {
        public async Task<Response> Handle(Command command, CancellationToken cancellationToken)
        {
            var code = await InviteCodes.ReplaceCodeAsync(db, request.RequiredCaller.UserId, cancellationToken);
            audit.Record("delivery.invite_code.generate", "setting", InviteCodes.CodeKey, "invite code");
            return new Response(code);
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/v1/api/settings/generate-invite-code", async (IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Command(), cancellationToken)))
                .RequirePermission(Permissions.InviteManage)
                .WithName("Delivery" + nameof(GenerateInviteCode))
                .WithTags(DeliveryRoutes.Settings)
                .WithSummary("Generate new invite code")
                .ProducesErrors(401, 403);
    }
}

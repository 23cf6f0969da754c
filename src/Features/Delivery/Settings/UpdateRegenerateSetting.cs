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

/// <summary><c>PUT /v1/api/settings/regenerate-setting</c> (seed 002, admins): <c>{regenerateAfterSignup: bool}</c> →
/// <c>{regenerateAfterSignup}</c>; registration then replaces the invite code after every sign-up.</summary>
public static class UpdateRegenerateSetting
{
    public sealed record Command(bool? RegenerateAfterSignup) : ICommand<Response>;

    public sealed record Response(bool RegenerateAfterSignup);

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator() => RuleFor(command => command.RegenerateAfterSignup).NotNull().WithMessage("regenerateAfterSignup (true or false) is required");
    }

    internal sealed class Handler(DbSession db, RequestContext request, AuditTrail audit) : IRequestHandler<Command, Response>
    {
        public async Task<Response> Handle(Command command, CancellationToken cancellationToken)
        {
            await InviteCodes.SetRegenerateAsync(db, command.RegenerateAfterSignup!.Value, request.RequiredCaller.UserId, cancellationToken);
            audit.Record("delivery.invite_code.regenerate_setting", "setting", InviteCodes.RegenerateKey, "regenerate invite after sign-up", new { value = command.RegenerateAfterSignup });
            return new Response(command.RegenerateAfterSignup.Value);
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPut("/v1/api/settings/regenerate-setting", async (Command command, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(command, cancellationToken)))
                .RequirePermission(Permissions.InviteManage)
                .WithName("Delivery" + nameof(UpdateRegenerateSetting))
                .WithTags(DeliveryRoutes.Settings)
                .WithSummary("Update auto-regenerate setting")
                .ProducesErrors(400, 401, 403);
    }
}

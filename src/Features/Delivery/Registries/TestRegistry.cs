using Capstan.Infrastructure.Audit;
using Capstan.Infrastructure.Delivery;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Http;
using Capstan.Infrastructure.Routing;
using Capstan.Infrastructure.Security;
using FluentValidation;
using MediatR;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Capstan.Features.Delivery.Registries;

/// <summary><c>POST /v1/api/admin/registries/{id}/test</c> (seed 002, admin): tests the stored login against the
/// registry's <c>/v2/</c> now (Basic, or the token flow the registry asks for) and records the outcome. 200
/// <c>{message, status: "connected"}</c>, or 503 naming why the registry refused or could not be reached.</summary>
public static class TestRegistry
{
    /// <summary>Not a command: the recorded status must survive the 503 of a failed test, so it is written at once.</summary>
    public sealed record Command(Guid Id) : IRequest<Response>;

    public sealed record Response(string Message, string Status);

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator() => RuleFor(command => command.Id).NotEmpty();
    }

    internal sealed class Handler(IServiceProvider services, AuditTrail audit) : IRequestHandler<Command, Response>
    {
        public async Task<Response> Handle(Command command, CancellationToken cancellationToken)
        {
            var (found, error) = await RegistryProbe.TestAndRecordAsync(services, command.Id, cancellationToken);
            if (!found)
            {
                throw new NotFoundException("Registry not found");
            }

            await audit.WriteNowAsync(
                new AuditEntry("delivery.registry.test", "registry", command.Id.ToString(), null, new { error }) { Result = error is null ? AuditResult.Success : AuditResult.Failure },
                cancellationToken);
            return error is null
                ? new Response("Connection test successful", "connected")
                : throw new ServiceUnavailableException($"Connection test failed: {error}");
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/v1/api/admin/registries/{id}/test", async (Guid id, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Command(id), cancellationToken)))
                .RequirePermission(Permissions.DeliveryAdmin)
                .WithName("Delivery" + nameof(TestRegistry))
                .WithTags(DeliveryRoutes.Registries)
                .WithSummary("Test registry connection")
                .ProducesErrors(400, 401, 403, 404, 503);
    }
}

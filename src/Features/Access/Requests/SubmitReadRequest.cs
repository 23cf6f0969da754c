using System.Text.Json;
using System.Text.Json.Serialization;
using Capstan.Infrastructure.Audit;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Http;
using Capstan.Infrastructure.Mediation;
using Capstan.Infrastructure.Routing;
using Capstan.Infrastructure.Security;
using FluentValidation;
using MediatR;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Capstan.Features.Access.Requests;

/// <summary><c>POST /api/v1/requests/read</c> (seed 003): submit a read request for <c>target_keys</c> (empty = all
/// keys). No wraps exist until an agent fetches the values after approval. With <c>direct_reveal: true</c> a holder of
/// <c>secret.reveal.direct</c> skips the vote where the matched policy allows it — never in a prod environment (the
/// PROD invariant): the request is approved at once and its job queued.</summary>
public static class SubmitReadRequest
{
    public sealed record Command(
        [property: JsonPropertyName("requester_id")] string? RequesterId,
        [property: JsonPropertyName("project_id")] Guid? ProjectId,
        [property: JsonPropertyName("environment")] string? Environment,
        [property: JsonPropertyName("target_provider_type")] string? TargetProviderType,
        [property: JsonPropertyName("target_provider_config")] JsonElement? TargetProviderConfig,
        [property: JsonPropertyName("target_secret_ref")] string? TargetSecretRef,
        [property: JsonPropertyName("target_keys")] List<string>? TargetKeys,
        [property: JsonPropertyName("justification")] string? Justification,
        [property: JsonPropertyName("direct_reveal")] bool? DirectReveal) : ICommand<RequestBody>;

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator()
        {
            RuleFor(command => command.TargetProviderType).NotEmpty().MaximumLength(100);
            RuleFor(command => command.TargetSecretRef).NotEmpty().MaximumLength(1000);
            RuleFor(command => command.TargetProviderConfig).Must(AccessJson.IsObjectOrAbsent).WithMessage("target_provider_config must be a JSON object");
            RuleFor(command => command.Environment).MaximumLength(100);
            RuleFor(command => command.Justification).MaximumLength(4000);
            RuleFor(command => command.TargetKeys)
                .Must(keys => keys is null || keys.Count <= SubmitPatchRequest.MaxKeys).WithMessage($"target_keys may name at most {SubmitPatchRequest.MaxKeys} keys")
                .Must(keys => keys is null || keys.All(key => key is not null && key.Trim().Length is > 0 and <= 256)).WithMessage("target_keys entries must be non-empty (at most 256 characters)");
        }
    }

    internal sealed class Handler(DbSession db, RequestContext request, AuditTrail audit, AccessMetrics metrics) : IRequestHandler<Command, RequestBody>
    {
        public async Task<RequestBody> Handle(Command command, CancellationToken cancellationToken)
        {
            request.CallerIdMatching(command.RequesterId, "requester_id");
            var keys = (command.TargetKeys ?? []).Select(key => key.Trim()).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
            var direct = command.DirectReveal == true;
            var intake = await RequestIntake.SubmitAsync(
                db,
                request,
                audit,
                new IntakeInput("read", command.ProjectId, command.Environment, command.TargetProviderType!.Trim(), AccessJson.TextOf(command.TargetProviderConfig),
                    command.TargetSecretRef!.Trim(), command.Justification, keys, direct),
                cancellationToken);
            metrics.Submitted("read");

            var row = intake.Row;
            if (direct)
            {
                await RequestTransitions.ApproveAsync(db, audit, metrics, row, intake.Decision.Workflow, request.RequiredCaller.UserId, "direct_reveal", cancellationToken);
                audit.Record("secret.reveal.direct.issued", "request", row.Id.ToString(), null, new { policy_id = intake.Decision.PolicyId, environment_id = row.EnvironmentId });
                row = await db.QuerySingleAsync<RequestRow>(RequestRecords.ById, new { row.Id }, cancellationToken);
            }

            return await RequestRecords.ToBodyAsync(db, row, cancellationToken);
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/api/v1/requests/read", async (Command command, IMediator mediator, CancellationToken cancellationToken) =>
                {
                    var body = await mediator.Send(command, cancellationToken);
                    return TypedResults.Created($"/api/v1/requests/{body.Id}", body);
                })
                .RequirePermission(Permissions.SecretRequest)
                .WithName(nameof(SubmitReadRequest))
                .WithTags(AccessRoutes.Requests)
                .WithSummary("Submit a read request")
                .ProducesErrors(400, 401, 403, 409);
    }
}

using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Capstan.Infrastructure.Audit;
using Capstan.Infrastructure.Crypto;
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

/// <summary><c>POST /api/v1/requests</c> (seed 003): submit a patch request. Each entry of <c>key_values</c> becomes a
/// single-use wrap, envelope-encrypted at rest and never echoed; the response is the pending request. The requester is
/// the caller (<c>requester_id</c> may only name them); the workflow comes from the policies.</summary>
public static class SubmitPatchRequest
{
    public const int MaxKeys = 100;
    public const int MaxValueBytes = 64 * 1024;

    public sealed record Command(
        [property: JsonPropertyName("requester_id")] string? RequesterId,
        [property: JsonPropertyName("project_id")] Guid? ProjectId,
        [property: JsonPropertyName("environment")] string? Environment,
        [property: JsonPropertyName("target_provider_type")] string? TargetProviderType,
        [property: JsonPropertyName("target_provider_config")] JsonElement? TargetProviderConfig,
        [property: JsonPropertyName("target_secret_ref")] string? TargetSecretRef,
        [property: JsonPropertyName("key_values")] Dictionary<string, string>? KeyValues,
        [property: JsonPropertyName("justification")] string? Justification) : ICommand<RequestBody>;

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator()
        {
            RuleFor(command => command.TargetProviderType).NotEmpty().MaximumLength(100);
            RuleFor(command => command.TargetSecretRef).NotEmpty().MaximumLength(1000);
            RuleFor(command => command.TargetProviderConfig).Must(AccessJson.IsObjectOrAbsent).WithMessage("target_provider_config must be a JSON object");
            RuleFor(command => command.Environment).MaximumLength(100);
            RuleFor(command => command.Justification).MaximumLength(4000);
            RuleFor(command => command.KeyValues).NotNull().WithMessage("key_values must contain at least one entry")
                .Must(values => values is null || values.Count is > 0 and <= MaxKeys).WithMessage($"key_values must contain between 1 and {MaxKeys} entries")
                .Must(values => values is null || values.Keys.All(key => key.Trim().Length is > 0 and <= 256)).WithMessage("key_values keys must be non-empty (at most 256 characters)")
                .Must(values => values is null || values.Values.All(value => value is not null && Encoding.UTF8.GetByteCount(value) <= MaxValueBytes))
                .WithMessage($"key_values values must be strings of at most {MaxValueBytes} bytes");
        }
    }

    internal sealed class Handler(DbSession db, RequestContext request, AuditTrail audit, EnvelopeCipher cipher, MasterKey masterKey, AccessMetrics metrics)
        : IRequestHandler<Command, RequestBody>
    {
        private const string InsertWrap = """
            INSERT INTO access.wraps (id, request_id, key_name, envelope, kms_key_id, content_hash, byte_length, origin, expires_at)
            VALUES (@Id, @RequestId, @KeyName, @Envelope, @KmsKeyId, @ContentHash, @ByteLength, 'requester', now() + make_interval(secs => @TtlSeconds))
            """;

        public async Task<RequestBody> Handle(Command command, CancellationToken cancellationToken)
        {
            request.CallerIdMatching(command.RequesterId, "requester_id");
            var values = command.KeyValues!.ToDictionary(pair => pair.Key.Trim(), pair => pair.Value, StringComparer.Ordinal);
            if (values.Count != command.KeyValues!.Count)
            {
                throw Infrastructure.Errors.BadRequestException.ForField("key_values", "key_values keys must be unique after trimming");
            }

            var keys = values.Keys.Order(StringComparer.Ordinal).ToList();
            var intake = await RequestIntake.SubmitAsync(
                db,
                request,
                audit,
                new IntakeInput("patch", command.ProjectId, command.Environment, command.TargetProviderType!.Trim(), AccessJson.TextOf(command.TargetProviderConfig),
                    command.TargetSecretRef!.Trim(), command.Justification, keys, DirectReveal: false),
                cancellationToken);

            var ttl = intake.Decision.Workflow.WrapTtlCreatedSeconds;
            foreach (var key in keys)
            {
                var wrapId = Guid.CreateVersion7();
                var plaintext = Encoding.UTF8.GetBytes(values[key]);
                var hash = SHA256.HashData(plaintext);
                await db.ExecuteAsync(
                    InsertWrap,
                    new
                    {
                        Id = wrapId,
                        RequestId = intake.Row.Id,
                        KeyName = key,
                        Envelope = cipher.Encrypt(plaintext, $"access.wraps:{wrapId}"),
                        KmsKeyId = masterKey.CurrentId,
                        ContentHash = hash,
                        ByteLength = (long)plaintext.Length,
                        TtlSeconds = (double)ttl,
                    },
                    cancellationToken);
                CryptographicOperations.ZeroMemory(plaintext);
                audit.Record("wrap.create", "wrap", wrapId.ToString(), null, new
                {
                    request_id = intake.Row.Id,
                    key_name = key,
                    byte_length = plaintext.Length,
                    content_hash = AccessJson.Hex(hash),
                    kms_key_id = masterKey.CurrentId,
                    ttl_seconds = ttl,
                });
            }

            metrics.Submitted("patch");
            return await RequestRecords.ToBodyAsync(db, intake.Row, cancellationToken);
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/api/v1/requests", async (Command command, IMediator mediator, CancellationToken cancellationToken) =>
                {
                    var body = await mediator.Send(command, cancellationToken);
                    return TypedResults.Created($"/api/v1/requests/{body.Id}", body);
                })
                .RequirePermission(Permissions.SecretRequest)
                .WithName(nameof(SubmitPatchRequest))
                .WithTags(AccessRoutes.Requests)
                .WithSummary("Submit a patch request (values become single-use wraps)")
                .ProducesErrors(400, 401, 403, 409);
    }
}

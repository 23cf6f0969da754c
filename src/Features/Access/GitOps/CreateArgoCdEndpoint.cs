using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json.Serialization;
using Capstan.Infrastructure.Audit;
using Capstan.Infrastructure.Crypto;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Http;
using Capstan.Infrastructure.Mediation;
using Capstan.Infrastructure.Routing;
using Capstan.Infrastructure.Security;
using FluentValidation;
using MediatR;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Capstan.Features.Access.GitOps;

/// <summary><c>POST /api/v1/argocd-endpoints</c> (seed 003, integration.edit; GitOps feature) <c>{name, base_url,
/// token_b64 (or token), environment_id?, tls_ca_pem?, tls_server_name?}</c>: registers an ArgoCD server. The token is
/// envelope-encrypted and never returned. 201; a taken name is a 409.</summary>
public static class CreateArgoCdEndpoint
{
    public sealed record Command(
        [property: JsonPropertyName("name")] string? Name,
        [property: JsonPropertyName("base_url")] string? BaseUrl,
        [property: JsonPropertyName("token_b64")] string? TokenB64,
        [property: JsonPropertyName("token")] string? Token,
        [property: JsonPropertyName("environment_id")] Guid? EnvironmentId,
        [property: JsonPropertyName("tls_ca_pem")] string? TlsCaPem,
        [property: JsonPropertyName("tls_server_name")] string? TlsServerName) : ICommand<ArgoCdEndpointBody>;

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator()
        {
            RuleFor(command => command.Name).NotEmpty().WithMessage("name is required").MaximumLength(100);
            RuleFor(command => command.BaseUrl).NotEmpty().WithMessage("base_url is required").MaximumLength(2000)
                .Must(url => url is null || (Uri.TryCreate(url, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https"))
                .WithMessage("base_url must be an absolute http(s) URL");
            RuleFor(command => command.TokenB64).Must((command, token) => !string.IsNullOrEmpty(token) || !string.IsNullOrEmpty(command.Token))
                .WithMessage("token_b64 is required");
            RuleFor(command => command.TokenB64).Must(BeBase64).WithMessage("token_b64 is not valid base64").When(command => !string.IsNullOrEmpty(command.TokenB64));
            RuleFor(command => command.TlsCaPem).Must(BeCertificate).WithMessage("tls_ca_pem must be a PEM certificate").When(command => !string.IsNullOrWhiteSpace(command.TlsCaPem));
            RuleFor(command => command.TlsServerName).MaximumLength(253);
        }

        private static bool BeBase64(string? value)
        {
            var buffer = new byte[value!.Length];
            return Convert.TryFromBase64String(value, buffer, out var written) && written > 0;
        }

        private static bool BeCertificate(string? pem)
        {
            try
            {
                using var certificate = X509Certificate2.CreateFromPem(pem);
                return true;
            }
            catch (CryptographicException)
            {
                return false;
            }
        }
    }

    internal sealed class Handler(DbSession db, RequestContext request, AuditTrail audit, EnvelopeCipher cipher, MasterKey masterKey)
        : IRequestHandler<Command, ArgoCdEndpointBody>
    {
        private const string Taken = "SELECT EXISTS (SELECT 1 FROM access.argocd_endpoints WHERE name = @Name AND deleted_at IS NULL)";

        private const string EnvironmentExists = "SELECT EXISTS (SELECT 1 FROM access.environments WHERE id = @Id)";

        private const string Insert = $"""
            INSERT INTO access.argocd_endpoints (id, name, environment_id, base_url, token_envelope, kms_key_id, tls_ca_pem, tls_server_name, created_by)
            VALUES (@Id, @Name, @EnvironmentId, @BaseUrl, @TokenEnvelope, @KmsKeyId, @TlsCaPem, @TlsServerName, @CreatedBy)
            RETURNING {ArgoCdEndpointBody.Columns}
            """;

        public async Task<ArgoCdEndpointBody> Handle(Command command, CancellationToken cancellationToken)
        {
            var name = command.Name!.Trim();
            if (await db.QuerySingleAsync<bool>(Taken, new { Name = name }, cancellationToken))
            {
                throw new ConflictException("An ArgoCD endpoint with this name already exists");
            }

            if (command.EnvironmentId is { } environmentId && !await db.QuerySingleAsync<bool>(EnvironmentExists, new { Id = environmentId }, cancellationToken))
            {
                throw BadRequestException.ForField("environment_id", "environment_id does not name an environment");
            }

            var token = string.IsNullOrEmpty(command.TokenB64) ? Encoding.UTF8.GetBytes(command.Token!) : Convert.FromBase64String(command.TokenB64);
            var id = Guid.CreateVersion7();
            try
            {
                var endpoint = await db.QuerySingleAsync<ArgoCdEndpointBody>(
                    Insert,
                    new
                    {
                        Id = id,
                        Name = name,
                        command.EnvironmentId,
                        BaseUrl = command.BaseUrl!.Trim(),
                        TokenEnvelope = cipher.Encrypt(token, $"access.argocd_endpoints:{id}"),
                        KmsKeyId = masterKey.CurrentId,
                        TlsCaPem = string.IsNullOrWhiteSpace(command.TlsCaPem) ? null : command.TlsCaPem.Trim(),
                        TlsServerName = string.IsNullOrWhiteSpace(command.TlsServerName) ? null : command.TlsServerName.Trim(),
                        CreatedBy = request.RequiredCaller.UserId,
                    },
                    cancellationToken);
                audit.Record("argocd_endpoint.create", "argocd_endpoint", id.ToString(), name, new { base_url = endpoint.BaseUrl, environment_id = endpoint.EnvironmentId });
                return endpoint;
            }
            finally
            {
                CryptographicOperations.ZeroMemory(token);
            }
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/api/v1/argocd-endpoints", async (Command command, IMediator mediator, CancellationToken cancellationToken) =>
                {
                    var endpoint = await mediator.Send(command, cancellationToken);
                    return TypedResults.Created((string?)null, endpoint);
                })
                .RequireFeature(AccessRoutes.GitOpsFeature)
                .RequirePermission(Permissions.IntegrationEdit)
                .WithName(nameof(CreateArgoCdEndpoint))
                .WithTags(AccessRoutes.GitOps)
                .WithSummary("Register an ArgoCD endpoint (404 while the GitOps integration is off)")
                .ProducesErrors(400, 401, 403, 404, 409);
    }
}

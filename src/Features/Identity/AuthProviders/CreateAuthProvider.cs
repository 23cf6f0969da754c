using System.Text.Json;
using Capstan.Infrastructure.Audit;
using Capstan.Infrastructure.Crypto;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Http;
using Capstan.Infrastructure.Mediation;
using Capstan.Infrastructure.Routing;
using Capstan.Infrastructure.Security;
using Capstan.Infrastructure.Sso;
using FluentValidation;
using MediatR;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;

namespace Capstan.Features.Identity.AuthProviders;

/// <summary>
/// <c>POST /api/v1/admin/auth-providers</c> (seed 000, Gyre §9.2): registers an OIDC / OAuth2 sign-in provider →
/// 201 <c>{success, provider}</c>. <c>clientSecret</c> is required and write-only: it is envelope-encrypted, bound to
/// the new row, and every answer shows <c>"***"</c>. URLs must be absolute https (http for localhost), claim names
/// <c>^[\w.]+$</c>, <c>roleMapping</c> an object or a JSON string of one. A taken name is a 409.
/// </summary>
public static class CreateAuthProvider
{
    public sealed record Command : ICommand<Response>
    {
        public string? Name { get; init; }

        public string? Type { get; init; }

        public bool? Enabled { get; init; }

        public string? ClientId { get; init; }

        public string? ClientSecret { get; init; }

        public string? IssuerUrl { get; init; }

        public string? AuthorizationUrl { get; init; }

        public string? TokenUrl { get; init; }

        public string? UserInfoUrl { get; init; }

        public string? JwksUrl { get; init; }

        public bool? AutoProvision { get; init; }

        public string? DefaultRole { get; init; }

        /// <summary>An object, or a JSON string holding one.</summary>
        public JsonElement RoleMapping { get; init; }

        public string? RoleClaim { get; init; }

        public string? UsernameClaim { get; init; }

        public string? EmailClaim { get; init; }

        public bool? UsePkce { get; init; }

        public string? Scopes { get; init; }
    }

    public sealed record Response(bool Success, AuthProviderView Provider);

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator()
        {
            RuleFor(command => command.Name).NotEmpty().WithMessage("name is required").MaximumLength(100);
            RuleFor(command => command.Type).NotEmpty().WithMessage("type is required")
                .Must(SsoProviderTypes.IsValid).WithMessage($"type must be one of: {SsoProviderTypes.AcceptedValues}");
            RuleFor(command => command.ClientId).NotEmpty().WithMessage("clientId is required").MaximumLength(512);
            RuleFor(command => command.ClientSecret).NotEmpty().WithMessage("clientSecret is required").MaximumLength(4096);
            RuleFor(command => command.IssuerUrl).NotEmpty().When(command => SsoProviderTypes.RequiresIssuer(command.Type))
                .WithMessage("issuerUrl is required for oidc and oauth2-generic providers");
            RuleFor(command => command.IssuerUrl).Must(SsoProviderRules.IsAllowedUrl).WithMessage($"issuerUrl {SsoProviderRules.UrlMessage}");
            RuleFor(command => command.AuthorizationUrl).Must(SsoProviderRules.IsAllowedUrl).WithMessage($"authorizationUrl {SsoProviderRules.UrlMessage}");
            RuleFor(command => command.TokenUrl).Must(SsoProviderRules.IsAllowedUrl).WithMessage($"tokenUrl {SsoProviderRules.UrlMessage}");
            RuleFor(command => command.UserInfoUrl).Must(SsoProviderRules.IsAllowedUrl).WithMessage($"userInfoUrl {SsoProviderRules.UrlMessage}");
            RuleFor(command => command.JwksUrl).Must(SsoProviderRules.IsAllowedUrl).WithMessage($"jwksUrl {SsoProviderRules.UrlMessage}");
            RuleFor(command => command.DefaultRole).Must(BaseRoles.IsValid).When(command => command.DefaultRole is not null)
                .WithMessage($"defaultRole must be one of: {BaseRoles.AcceptedValues}");
            RuleFor(command => command.RoleMapping).Custom((mapping, context) =>
            {
                if (!SsoRoleMapping.TryNormalise(mapping, out _, out var error))
                {
                    context.AddFailure("roleMapping", error!);
                }
            });
            RuleFor(command => command.RoleClaim).Must(SsoProviderRules.IsClaimPath).WithMessage($"roleClaim {SsoProviderRules.ClaimMessage}");
            RuleFor(command => command.UsernameClaim).Must(SsoProviderRules.IsClaimPath).WithMessage($"usernameClaim {SsoProviderRules.ClaimMessage}");
            RuleFor(command => command.EmailClaim).Must(SsoProviderRules.IsClaimPath).WithMessage($"emailClaim {SsoProviderRules.ClaimMessage}");
            RuleFor(command => command.Scopes).Must(SsoProviderRules.HasScopes).WithMessage("At least one scope is required").MaximumLength(1000);
            RuleFor(command => command.Scopes).Must(scopes => scopes!.Split(' ', StringSplitOptions.RemoveEmptyEntries).Contains("openid"))
                .When(command => command.Scopes is not null && SsoProviderTypes.IsValid(command.Type) && SsoProviderTypes.UsesIdToken(command.Type!))
                .WithMessage("scopes must include openid for OpenID Connect providers");
        }
    }

    internal sealed class Handler(DbSession db, EnvelopeCipher cipher, AuditTrail audit, RequestContext request, RateLimiter rateLimiter, IConfiguration configuration, TimeProvider clock)
        : IRequestHandler<Command, Response>
    {
        private const string NameTaken = "SELECT EXISTS (SELECT 1 FROM identity.auth_providers WHERE lower(name) = lower(@Name))";

        private const string Insert = $"""
            INSERT INTO identity.auth_providers
                (id, name, type, enabled, client_id, client_secret, issuer_url, authorization_url, token_url, user_info_url, jwks_url,
                 auto_provision, default_role, role_mapping, role_claim, username_claim, email_claim, use_pkce, scopes, created_at, updated_at)
            VALUES
                (@Id, @Name, @Type, @Enabled, @ClientId, @ClientSecret, @IssuerUrl, @AuthorizationUrl, @TokenUrl, @UserInfoUrl, @JwksUrl,
                 @AutoProvision, @DefaultRole, CAST(@RoleMapping AS jsonb), @RoleClaim, @UsernameClaim, @EmailClaim, @UsePkce, @Scopes, @Now, @Now)
            RETURNING {SsoProvider.Columns}
            """;

        public async Task<Response> Handle(Command command, CancellationToken cancellationToken)
        {
            var caller = request.RequiredCaller;
            var limit = new RateLimitRule(configuration.GetValue("Identity:AdminRateLimit:PermitPerMinute", 20), TimeSpan.FromMinutes(1));
            await rateLimiter.EnforceAsync($"admin:{caller.UserId}", limit, cancellationToken);

            var name = command.Name!.Trim();
            if (await db.ExecuteScalarAsync<bool>(NameTaken, new { Name = name }, cancellationToken))
            {
                throw new ConflictException("An auth provider with this name already exists");
            }

            SsoRoleMapping.TryNormalise(command.RoleMapping, out var roleMapping, out _);
            var id = Guid.CreateVersion7();
            var provider = await db.QuerySingleAsync<SsoProvider>(
                Insert,
                new
                {
                    Id = id,
                    Name = name,
                    command.Type,
                    Enabled = command.Enabled ?? true,
                    ClientId = command.ClientId!.Trim(),
                    ClientSecret = cipher.EncryptString(command.ClientSecret!, SsoProvider.SecretBinding(id)),
                    IssuerUrl = SsoProviderRules.NormaliseUrl(command.IssuerUrl),
                    AuthorizationUrl = SsoProviderRules.NormaliseUrl(command.AuthorizationUrl),
                    TokenUrl = SsoProviderRules.NormaliseUrl(command.TokenUrl),
                    UserInfoUrl = SsoProviderRules.NormaliseUrl(command.UserInfoUrl),
                    JwksUrl = SsoProviderRules.NormaliseUrl(command.JwksUrl),
                    AutoProvision = command.AutoProvision ?? true,
                    DefaultRole = command.DefaultRole is null ? "viewer" : BaseRoles.Parse(command.DefaultRole).Name(),
                    RoleMapping = roleMapping,
                    RoleClaim = command.RoleClaim ?? "groups",
                    UsernameClaim = command.UsernameClaim ?? "preferred_username",
                    EmailClaim = command.EmailClaim ?? "email",
                    UsePkce = command.UsePkce ?? true,
                    Scopes = command.Scopes is null ? "openid profile email" : SsoProviderRules.NormaliseScopes(command.Scopes),
                    Now = clock.GetUtcNow().UtcDateTime,
                },
                cancellationToken);
            audit.Record("auth_provider.create", "auth_provider", provider.Id.ToString(), provider.Name, new { provider.Type, provider.Enabled, provider.AutoProvision });
            return new Response(true, AuthProviderView.From(provider));
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/api/v1/admin/auth-providers", async (Command command, IMediator mediator, CancellationToken cancellationToken) =>
                {
                    var response = await mediator.Send(command, cancellationToken);
                    return TypedResults.Created($"/api/v1/admin/auth-providers/{response.Provider.Id}", response);
                })
                .RequirePermission(Permissions.AuthProviderManage)
                .WithName(nameof(CreateAuthProvider))
                .WithTags(IdentityRoutes.Admin)
                .WithSummary("Register an OIDC / OAuth2 sign-in provider (the client secret is write-only)")
                .ProducesErrors(400, 401, 403, 409, 429);
    }
}

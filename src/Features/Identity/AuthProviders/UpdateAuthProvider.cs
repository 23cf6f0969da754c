using System.Text.Json;
using System.Text.Json.Serialization;
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
/// <c>PATCH /api/v1/admin/auth-providers/{id}</c> (seed 000): changes only the fields sent → <c>{success, provider}</c>.
/// A new <c>clientSecret</c> is re-encrypted; the URLs and <c>roleMapping</c> clear with <c>null</c> or <c>""</c>. The
/// result is checked as a whole (an oidc provider keeps an issuer), a taken name is a 409, an unknown id a 404.
/// </summary>
public static class UpdateAuthProvider
{
    public sealed record Command : ICommand<Response>
    {
        [JsonIgnore]
        public Guid Id { get; init; }

        public string? Name { get; init; }

        public string? Type { get; init; }

        public bool? Enabled { get; init; }

        public string? ClientId { get; init; }

        public string? ClientSecret { get; init; }

        // Clearable fields: absent keeps the value, null or "" clears it.
        public JsonElement IssuerUrl { get; init; }

        public JsonElement AuthorizationUrl { get; init; }

        public JsonElement TokenUrl { get; init; }

        public JsonElement UserInfoUrl { get; init; }

        public JsonElement JwksUrl { get; init; }

        public bool? AutoProvision { get; init; }

        public string? DefaultRole { get; init; }

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
            RuleFor(command => command.Name).NotEmpty().WithMessage("name cannot be empty").MaximumLength(100).When(command => command.Name is not null);
            RuleFor(command => command.Type).Must(SsoProviderTypes.IsValid).When(command => command.Type is not null)
                .WithMessage($"type must be one of: {SsoProviderTypes.AcceptedValues}");
            RuleFor(command => command.ClientId).NotEmpty().WithMessage("clientId cannot be empty").MaximumLength(512).When(command => command.ClientId is not null);
            RuleFor(command => command.ClientSecret).NotEmpty().WithMessage("clientSecret cannot be empty").MaximumLength(4096).When(command => command.ClientSecret is not null);
            UrlRule(command => command.IssuerUrl, "issuerUrl");
            UrlRule(command => command.AuthorizationUrl, "authorizationUrl");
            UrlRule(command => command.TokenUrl, "tokenUrl");
            UrlRule(command => command.UserInfoUrl, "userInfoUrl");
            UrlRule(command => command.JwksUrl, "jwksUrl");
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
        }

        private void UrlRule(System.Linq.Expressions.Expression<Func<Command, JsonElement>> field, string name) =>
            RuleFor(field).Must(value => value.ValueKind is JsonValueKind.Undefined or JsonValueKind.Null
                    || (value.ValueKind == JsonValueKind.String && SsoProviderRules.IsAllowedUrl(value.GetString())))
                .OverridePropertyName(name).WithMessage($"{name} {SsoProviderRules.UrlMessage}");
    }

    internal sealed class Handler(DbSession db, EnvelopeCipher cipher, AuditTrail audit, RequestContext request, RateLimiter rateLimiter, IConfiguration configuration, TimeProvider clock)
        : IRequestHandler<Command, Response>
    {
        private const string Lock = $"SELECT {SsoProvider.Columns} FROM identity.auth_providers WHERE id = @Id FOR UPDATE";

        private const string NameTaken = "SELECT EXISTS (SELECT 1 FROM identity.auth_providers WHERE lower(name) = lower(@Name) AND id <> @Id)";

        private const string Update = $"""
            UPDATE identity.auth_providers
            SET name = @Name, type = @Type, enabled = @Enabled, client_id = @ClientId, client_secret = @ClientSecret,
                issuer_url = @IssuerUrl, authorization_url = @AuthorizationUrl, token_url = @TokenUrl, user_info_url = @UserInfoUrl,
                jwks_url = @JwksUrl, auto_provision = @AutoProvision, default_role = @DefaultRole, role_mapping = CAST(@RoleMapping AS jsonb),
                role_claim = @RoleClaim, username_claim = @UsernameClaim, email_claim = @EmailClaim, use_pkce = @UsePkce, scopes = @Scopes,
                updated_at = @Now
            WHERE id = @Id
            RETURNING {SsoProvider.Columns}
            """;

        public async Task<Response> Handle(Command command, CancellationToken cancellationToken)
        {
            var caller = request.RequiredCaller;
            var limit = new RateLimitRule(configuration.GetValue("Identity:AdminRateLimit:PermitPerMinute", 20), TimeSpan.FromMinutes(1));
            await rateLimiter.EnforceAsync($"admin:{caller.UserId}", limit, cancellationToken);

            var current = await db.QuerySingleOrDefaultAsync<SsoProvider>(Lock, new { command.Id }, cancellationToken)
                ?? throw new NotFoundException("Provider not found");
            var name = command.Name?.Trim() ?? current.Name;
            if (name != current.Name && await db.ExecuteScalarAsync<bool>(NameTaken, new { Name = name, command.Id }, cancellationToken))
            {
                throw new ConflictException("An auth provider with this name already exists");
            }

            var roleMapping = current.RoleMapping;
            if (command.RoleMapping.ValueKind != JsonValueKind.Undefined)
            {
                SsoRoleMapping.TryNormalise(command.RoleMapping, out roleMapping, out _);
            }

            var next = current with
            {
                Name = name,
                Type = command.Type ?? current.Type,
                Enabled = command.Enabled ?? current.Enabled,
                ClientId = command.ClientId?.Trim() ?? current.ClientId,
                ClientSecret = command.ClientSecret is null ? current.ClientSecret : cipher.EncryptString(command.ClientSecret, SsoProvider.SecretBinding(current.Id)),
                IssuerUrl = Apply(command.IssuerUrl, current.IssuerUrl),
                AuthorizationUrl = Apply(command.AuthorizationUrl, current.AuthorizationUrl),
                TokenUrl = Apply(command.TokenUrl, current.TokenUrl),
                UserInfoUrl = Apply(command.UserInfoUrl, current.UserInfoUrl),
                JwksUrl = Apply(command.JwksUrl, current.JwksUrl),
                AutoProvision = command.AutoProvision ?? current.AutoProvision,
                DefaultRole = command.DefaultRole is null ? current.DefaultRole : BaseRoles.Parse(command.DefaultRole).Name(),
                RoleMapping = roleMapping,
                RoleClaim = command.RoleClaim ?? current.RoleClaim,
                UsernameClaim = command.UsernameClaim ?? current.UsernameClaim,
                EmailClaim = command.EmailClaim ?? current.EmailClaim,
                UsePkce = command.UsePkce ?? current.UsePkce,
                Scopes = command.Scopes is null ? current.Scopes : SsoProviderRules.NormaliseScopes(command.Scopes),
            };
            CheckWhole(next);

            var updated = await db.QuerySingleAsync<SsoProvider>(Update, Parameters(next, clock.GetUtcNow().UtcDateTime), cancellationToken);
            audit.Record("auth_provider.update", "auth_provider", updated.Id.ToString(), updated.Name, new { changed = ChangedFields(command) });
            return new Response(true, AuthProviderView.From(updated));
        }

        // The rules that depend on more than one field hold for the provider as it will be.
        private static void CheckWhole(SsoProvider provider)
        {
            if (SsoProviderTypes.RequiresIssuer(provider.Type) && provider.IssuerUrl is null)
            {
                throw BadRequestException.ForField("issuerUrl", "issuerUrl is required for oidc and oauth2-generic providers");
            }

            if (SsoProviderTypes.UsesIdToken(provider.Type) && !provider.Scopes.Split(' ').Contains("openid"))
            {
                throw BadRequestException.ForField("scopes", "scopes must include openid for OpenID Connect providers");
            }
        }

        private static string? Apply(JsonElement change, string? current) => change.ValueKind switch
        {
            JsonValueKind.Undefined => current,
            JsonValueKind.String => SsoProviderRules.NormaliseUrl(change.GetString()),
            _ => null,
        };

        private static object Parameters(SsoProvider provider, DateTime now) => new
        {
            provider.Id,
            provider.Name,
            provider.Type,
            provider.Enabled,
            provider.ClientId,
            provider.ClientSecret,
            provider.IssuerUrl,
            provider.AuthorizationUrl,
            provider.TokenUrl,
            provider.UserInfoUrl,
            provider.JwksUrl,
            provider.AutoProvision,
            provider.DefaultRole,
            provider.RoleMapping,
            provider.RoleClaim,
            provider.UsernameClaim,
            provider.EmailClaim,
            provider.UsePkce,
            provider.Scopes,
            Now = now,
        };

        // Field names only; never a value (the client secret is one of them).
        private static string[] ChangedFields(Command command) =>
        [
            .. new (string Field, bool Sent)[]
            {
                ("name", command.Name is not null),
                ("type", command.Type is not null),
                ("enabled", command.Enabled is not null),
                ("clientId", command.ClientId is not null),
                ("clientSecret", command.ClientSecret is not null),
                ("issuerUrl", command.IssuerUrl.ValueKind != JsonValueKind.Undefined),
                ("authorizationUrl", command.AuthorizationUrl.ValueKind != JsonValueKind.Undefined),
                ("tokenUrl", command.TokenUrl.ValueKind != JsonValueKind.Undefined),
                ("userInfoUrl", command.UserInfoUrl.ValueKind != JsonValueKind.Undefined),
                ("jwksUrl", command.JwksUrl.ValueKind != JsonValueKind.Undefined),
                ("autoProvision", command.AutoProvision is not null),
                ("defaultRole", command.DefaultRole is not null),
                ("roleMapping", command.RoleMapping.ValueKind != JsonValueKind.Undefined),
                ("roleClaim", command.RoleClaim is not null),
                ("usernameClaim", command.UsernameClaim is not null),
                ("emailClaim", command.EmailClaim is not null),
                ("usePkce", command.UsePkce is not null),
                ("scopes", command.Scopes is not null),
            }.Where(change => change.Sent).Select(change => change.Field),
        ];
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPatch("/api/v1/admin/auth-providers/{id}", async (Guid id, Command command, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(command with { Id = id }, cancellationToken)))
                .RequirePermission(Permissions.AuthProviderManage)
                .WithName(nameof(UpdateAuthProvider))
                .WithTags(IdentityRoutes.Admin)
                .WithSummary("Change a sign-in provider (only the fields sent)")
                .ProducesErrors(400, 401, 403, 404, 409, 429);
    }
}

using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Security;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace Capstan.Api.Docs;

/// <summary>Documents each operation's access: the permission it needs (and the lowest base role holding it) with its
/// 401/403 answers, or that it is public. Adds the three ways to authenticate as security schemes.</summary>
public sealed class AccessTransformer : IOpenApiOperationTransformer, IOpenApiDocumentTransformer
{
    private static readonly string[] Schemes = ["bearer", "apiKey", "session"];

    public Task TransformAsync(OpenApiDocument document, OpenApiDocumentTransformerContext context, CancellationToken cancellationToken)
    {
        document.Components ??= new OpenApiComponents();
        document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
        document.Components.SecuritySchemes["bearer"] = new OpenApiSecurityScheme
        {
            Type = SecuritySchemeType.Http,
            Scheme = "bearer",
            Description = "The token from POST /api/v1/auth/login, or an API key.",
        };
        document.Components.SecuritySchemes["apiKey"] = new OpenApiSecurityScheme
        {
            Type = SecuritySchemeType.ApiKey,
            In = ParameterLocation.Header,
            Name = "X-Api-Key",
            Description = "An API key from POST /api/v1/api-keys.",
        };
        document.Components.SecuritySchemes["session"] = new OpenApiSecurityScheme
        {
            Type = SecuritySchemeType.ApiKey,
            In = ParameterLocation.Cookie,
            Name = SessionCookies.SessionName,
            Description = "The session cookie set by login; mutating requests also send X-CSRF-Token.",
        };
        document.Components.SecuritySchemes["agentSecret"] = new OpenApiSecurityScheme
        {
            Type = SecuritySchemeType.ApiKey,
            In = ParameterLocation.Header,
            Name = AgentAuthenticated.HeaderName,
            Description = "An access agent's secret from POST /api/v1/agents, for the agent named in the path.",
        };
        return Task.CompletedTask;
    }

    public async Task TransformAsync(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken cancellationToken)
    {
        var metadata = context.Description.ActionDescriptor.EndpointMetadata;
        if (metadata.OfType<AgentAuthenticated>().Any())
        {
            await DocumentAgentRouteAsync(operation, context, cancellationToken);
            return;
        }

        if (metadata.OfType<RequiredPermission>().LastOrDefault() is not { } required)
        {
            if (metadata.OfType<IAllowAnonymous>().Any())
            {
                operation.Security = [];
            }

            return;
        }

        var definition = PermissionCatalog.Get(required.Permission);
        var note = $"Requires permission `{definition.Key}` ({definition.MinimumRole.Name()} or higher).";
        operation.Description = string.IsNullOrEmpty(operation.Description) ? note : $"{operation.Description}\n\n{note}";
        operation.Extensions ??= new Dictionary<string, IOpenApiExtension>();
        operation.Extensions["x-permission"] = new JsonNodeExtension(definition.Key);
        operation.Security = [.. Schemes.Select(scheme => new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(scheme, context.Document)] = [] })];

        var errorSchema = await context.GetOrCreateSchemaAsync(typeof(ErrorResponse), cancellationToken: cancellationToken);
        operation.Responses ??= [];
        foreach (var (status, description) in new[] { ("401", "No or invalid credentials"), ("403", $"The caller lacks `{definition.Key}`") })
        {
            operation.Responses.TryAdd(status, new OpenApiResponse
            {
                Description = description,
                Content = new Dictionary<string, OpenApiMediaType> { ["application/json"] = new() { Schema = errorSchema } },
            });
        }
    }

    private static async Task DocumentAgentRouteAsync(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken cancellationToken)
    {
        const string Note = "Agent route: authenticated by `X-Agent-Secret` for the agent named in the path (user credentials are ignored).";
        operation.Description = string.IsNullOrEmpty(operation.Description) ? Note : $"{operation.Description}\n\n{Note}";
        operation.Extensions ??= new Dictionary<string, IOpenApiExtension>();
        operation.Extensions["x-agent-auth"] = new JsonNodeExtension(true);
        operation.Security = [new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference("agentSecret", context.Document)] = [] }];
        var errorSchema = await context.GetOrCreateSchemaAsync(typeof(ErrorResponse), cancellationToken: cancellationToken);
        operation.Responses ??= [];
        operation.Responses.TryAdd("401", new OpenApiResponse
        {
            Description = "Missing, unknown, wrong or revoked agent credential",
            Content = new Dictionary<string, OpenApiMediaType> { ["application/json"] = new() { Schema = errorSchema } },
        });
    }
}

using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Builder;

namespace Capstan.Infrastructure.Security;

/// <summary>Route metadata naming the permission a route requires (read by the OpenAPI transformer and the
/// contract tests).</summary>
public sealed record RequiredPermission(string Permission);

/// <summary>The authorization requirement behind <see cref="RouteAccess.RequirePermission{TBuilder}"/>.</summary>
public sealed class PermissionRequirement(string permission) : IAuthorizationRequirement
{
    public string Permission { get; } = permission;
}

public static class RouteAccess
{
    /// <summary>The route needs a signed-in caller holding <paramref name="permission"/> (401 without credentials, 403
    /// without the permission, both before the body is read).</summary>
    public static TBuilder RequirePermission<TBuilder>(this TBuilder builder, string permission)
        where TBuilder : IEndpointConventionBuilder
    {
        PermissionCatalog.Get(permission);
        builder.WithMetadata(new RequiredPermission(permission));
        return builder.RequireAuthorization(policy => policy.RequireAuthenticatedUser().AddRequirements(new PermissionRequirement(permission)));
    }
}

/// <summary>Passes callers holding the permission globally (base role or an unscoped custom role), or holding a
/// scopable permission within some scope: the handlers of those routes check the resource's scope.</summary>
public sealed class PermissionAuthorizationHandler(RequestContext request) : AuthorizationHandler<PermissionRequirement>
{
    protected override Task HandleRequirementAsync(AuthorizationHandlerContext context, PermissionRequirement requirement)
    {
        if (request.Caller is { } caller
            && (caller.Has(requirement.Permission)
                || (PermissionCatalog.Scopable.Contains(requirement.Permission) && caller.ScopedGrants.Any(grant => grant.Permission == requirement.Permission))))
        {
            context.Succeed(requirement);
        }

        return Task.CompletedTask;
    }
}

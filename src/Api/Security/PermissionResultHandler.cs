using Capstan.Api.Errors;
using Capstan.Infrastructure.Security;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Policy;

namespace Capstan.Api.Security;

/// <summary>Authorization outcomes in the one error shape: 401 for no or bad credentials (before the body is read), and
/// 403 naming the missing permission and the lowest base role that holds it.</summary>
public sealed class PermissionResultHandler : IAuthorizationMiddlewareResultHandler
{
    public async Task HandleAsync(RequestDelegate next, HttpContext context, AuthorizationPolicy policy, PolicyAuthorizationResult authorizeResult)
    {
        if (authorizeResult.Challenged)
        {
            await context.ChallengeAsync();
            return;
        }

        if (authorizeResult.Forbidden)
        {
            var missing = authorizeResult.AuthorizationFailure?.FailedRequirements.OfType<PermissionRequirement>().FirstOrDefault();
            var message = missing is null
                ? "Permission denied"
                : $"Missing permission \"{missing.Permission}\": this action requires the {PermissionCatalog.Get(missing.Permission).MinimumRole.Name()} role or higher";
            await ErrorResponseWriter.WriteAsync(context, 403, message);
            return;
        }

        await next(context);
    }
}

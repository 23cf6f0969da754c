namespace Capstan.Api.Middleware;

/// <summary>Unversioned <c>/api/&lt;rest&gt;</c> is served as <c>/api/v1/&lt;rest&gt;</c> (seed 000's compatibility
/// note), so seed 001's <c>/api/clusters</c>, <c>/api/events</c> and <c>/api/ws</c> work. The docs stay where they are.</summary>
public sealed class ApiVersionRewriteMiddleware(RequestDelegate next)
{
    public Task InvokeAsync(HttpContext context)
    {
        var path = context.Request.Path;
        if (path.StartsWithSegments("/api", out var rest)
            && !path.StartsWithSegments("/api/v1")
            && !path.StartsWithSegments("/api/docs")
            && rest.HasValue)
        {
            context.Request.Path = new PathString("/api/v1").Add(rest);
        }

        return next(context);
    }
}

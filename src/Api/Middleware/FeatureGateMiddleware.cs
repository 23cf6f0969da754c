using Capstan.Infrastructure.Http;

namespace Capstan.Api.Middleware;

/// <summary>Routes behind a switched-off feature (<see cref="RequiresFeature"/>) answer 404 before anything else looks
/// at the request, exactly like an unmapped path.</summary>
public sealed class FeatureGateMiddleware(RequestDelegate next, IConfiguration configuration)
{
    public Task InvokeAsync(HttpContext context)
    {
        if (context.GetEndpoint()?.Metadata.GetMetadata<RequiresFeature>() is { } feature && !feature.IsEnabled(configuration))
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return Task.CompletedTask;
        }

        return next(context);
    }
}

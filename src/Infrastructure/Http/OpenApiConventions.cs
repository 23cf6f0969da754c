using Capstan.Infrastructure.Errors;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Capstan.Infrastructure.Http;

public static class OpenApiConventions
{
    /// <summary>Documents the error statuses a route can answer, each with the shared error shape.</summary>
    public static TBuilder ProducesErrors<TBuilder>(this TBuilder builder, params int[] statusCodes)
        where TBuilder : IEndpointConventionBuilder
    {
        foreach (var statusCode in statusCodes)
        {
            builder.WithMetadata(new ProducesResponseTypeMetadata(statusCode, typeof(ErrorResponse), ["application/json"]));
        }

        return builder;
    }
}

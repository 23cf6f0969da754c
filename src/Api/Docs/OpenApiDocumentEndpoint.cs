using Capstan.Infrastructure.Routing;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace Capstan.Api.Docs;

/// <summary><c>GET /api/docs/openapi.json</c>: the OpenAPI 3.1 document of every mapped route.</summary>
public sealed class OpenApiDocumentEndpoint : ICarterModule
{
    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapGet("/api/docs/openapi.json", ServeAsync)
            .AllowAnonymous()
            .WithName("GetOpenApiDocument")
            .WithTags("Platform")
            .WithSummary("The OpenAPI 3.1 document of this API")
            .Produces(200, contentType: "application/json");

    private static async Task ServeAsync(HttpContext context, [FromKeyedServices(OpenApiSetup.DocumentName)] IOpenApiDocumentProvider provider)
    {
        var document = await provider.GetOpenApiDocumentAsync(context.RequestAborted);
        // The OpenAPI writer is synchronous, so it writes to a string first (Kestrel refuses synchronous writes).
        var json = await document.SerializeAsJsonAsync(OpenApiSpecVersion.OpenApi3_1, context.RequestAborted);
        context.Response.ContentType = "application/json; charset=utf-8";
        await context.Response.WriteAsync(json, context.RequestAborted);
    }
}

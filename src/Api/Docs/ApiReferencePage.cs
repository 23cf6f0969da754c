using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Routing;

namespace Capstan.Api.Docs;

/// <summary><c>GET /api/docs</c>: the Scalar API reference, served with Scalar's browser bundle embedded at build time
/// (no CDN, so it renders without internet access).</summary>
public sealed class ApiReferencePage : ICarterModule
{
    private const string BundleResource = "docs/scalar-standalone.js";

    private const string Page = """
        <!doctype html>
        <html lang="en">
        <head>
          <meta charset="utf-8" />
          <meta name="viewport" content="width=device-width, initial-scale=1" />
          <title>Capstan API reference</title>
        </head>
        <body>
          <div id="api-reference"></div>
          <script src="/api/docs/scalar.js"></script>
          <script>
            Scalar.createApiReference('#api-reference', {
              url: '/api/docs/openapi.json',
              withDefaultFonts: false,
              hideClientButton: false,
              metaData: { title: 'Capstan API reference' }
            });
          </script>
        </body>
        </html>
        """;

    private static readonly Lazy<byte[]?> Bundle = new(() =>
    {
        using var stream = typeof(ApiReferencePage).Assembly.GetManifestResourceStream(BundleResource);
        if (stream is null)
        {
            return null;
        }

        using var buffer = new MemoryStream();
        stream.CopyTo(buffer);
        return buffer.ToArray();
    });

    public void AddRoutes(IEndpointRouteBuilder app)
    {
        app.MapGet("/api/docs", () => Results.Content(Page, "text/html; charset=utf-8"))
            .AllowAnonymous()
            .WithName("GetApiReference")
            .WithTags("Platform")
            .WithSummary("The Scalar API reference page")
            .Produces(200, contentType: "text/html");

        app.MapGet("/api/docs/scalar.js", ServeBundle)
            .AllowAnonymous()
            .ExcludeFromDescription();
    }

    private static IResult ServeBundle(HttpContext context)
    {
        if (Bundle.Value is not { } bytes)
        {
            throw new ServiceUnavailableException("The API reference bundle is not part of this build");
        }

        context.Response.Headers.CacheControl = "public, max-age=86400";
        return Results.Bytes(bytes, "text/javascript; charset=utf-8");
    }
}

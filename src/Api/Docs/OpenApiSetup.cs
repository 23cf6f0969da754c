using Microsoft.OpenApi;

namespace Capstan.Api.Docs;

public static class OpenApiSetup
{
    public const string DocumentName = "v1";

    /// <summary>OpenAPI 3.1 generated from the mapped endpoints; transformers add what the endpoints' metadata says
    /// about access.</summary>
    public static IServiceCollection AddApiDocs(this IServiceCollection services)
    {
        services.AddOpenApi(DocumentName, options =>
        {
            options.OpenApiVersion = OpenApiSpecVersion.OpenApi3_1;
            options.AddDocumentTransformer<AccessTransformer>();
            options.AddOperationTransformer<AccessTransformer>();
            options.AddDocumentTransformer((document, _, _) =>
            {
                document.Info = new OpenApiInfo
                {
                    Title = "Capstan API",
                    Version = typeof(OpenApiSetup).Assembly.GetName().Version?.ToString(3) ?? "1.0.0",
                    Description = "One control-plane API for Flux GitOps, visual deployment workflows, brokered secret access "
                        + "and a fleet of development environments, on shared identity, permissions, audit and cluster registry.",
                };
                return Task.CompletedTask;
            });
        });
        return services;
    }
}

using System.IO.Compression;
using Microsoft.AspNetCore.ResponseCompression;
using Microsoft.Extensions.Options;

namespace Capstan.Api.Middleware;

/// <summary>
/// Response compression for the answers that are big: the JSON of list routes (slices named <c>List…</c>, pages of up
/// to hundreds of rows), gzip or Brotli at the fastest level when the client accepts it. Small answers (one resource,
/// errors) stay uncompressed, where compressing would cost more CPU than it saves bytes; streams (SSE, WebSockets,
/// downloads) are never touched. Over HTTPS the framework's default applies (off, against BREACH-style attacks on
/// secrets reflected next to attacker-chosen input), so this acts where TLS ends in front of the service.
/// </summary>
public static class ListCompression
{
    public static IServiceCollection AddListCompression(this IServiceCollection services)
    {
        services.Configure<BrotliCompressionProviderOptions>(options => options.Level = CompressionLevel.Fastest);
        services.Configure<GzipCompressionProviderOptions>(options => options.Level = CompressionLevel.Fastest);
        services.AddResponseCompression(options =>
        {
            options.Providers.Add<BrotliCompressionProvider>();
            options.Providers.Add<GzipCompressionProvider>();
            options.MimeTypes = ["application/json"];
        });
        services.AddSingleton<IResponseCompressionProvider, ListResponseCompressionProvider>();
        return services;
    }

    public static bool IsList(HttpContext context) =>
        HttpMethods.IsGet(context.Request.Method)
        && context.GetEndpoint()?.Metadata.GetMetadata<IEndpointNameMetadata>()?.EndpointName is { } name
        && name.StartsWith("List", StringComparison.Ordinal);

    private sealed class ListResponseCompressionProvider(IServiceProvider services, IOptions<ResponseCompressionOptions> options)
        : ResponseCompressionProvider(services, options)
    {
        public override bool ShouldCompressResponse(HttpContext context) => IsList(context) && base.ShouldCompressResponse(context);
    }
}

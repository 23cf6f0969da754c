using System.Globalization;
using Capstan.Api.Errors;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.Metadata;

namespace Capstan.Api.Middleware;

/// <summary>
/// A Content-Type naming a character set .NET does not know gets 415. Bodies above the endpoint's limit (its <see cref="IRequestSizeLimitMetadata"/>, else <c>Api:MaxRequestBodyBytes</c>,
/// 1 MB by default) get 413: at once when Content-Length says so, otherwise while the body is read (chunked uploads).
/// A form endpoint (multipart uploads) called without any body binds an empty form, so its validator names the missing
/// field: the compile-time request delegates read <c>Request.Form</c> of a bodiless request, which throws.
/// </summary>
public sealed class RequestBodyLimitMiddleware(RequestDelegate next, IConfiguration configuration)
{
    private readonly long _defaultLimit = configuration.GetValue("Api:MaxRequestBodyBytes", 1L << 20);

    public Task InvokeAsync(HttpContext context)
    {
        if (UnknownCharset(context.Request.ContentType))
        {
            // The JSON and form readers would fail on an encoding .NET does not know; say so instead of a 500.
            return ErrorResponseWriter.WriteAsync(context, 415, "Unsupported character set in Content-Type; send UTF-8");
        }

        if (IsBodilessFormRequest(context))
        {
            context.Features.Set<IFormFeature>(new FormFeature(FormCollection.Empty));
        }

        var limit = context.GetEndpoint()?.Metadata.GetMetadata<IRequestSizeLimitMetadata>()?.MaxRequestBodySize ?? _defaultLimit;
        if (context.Request.ContentLength is { } length && length > limit)
        {
            return ErrorResponseWriter.WriteAsync(context, 413, TooLarge(limit));
        }

        var feature = context.Features.Get<IHttpMaxRequestBodySizeFeature>();
        if (feature is { IsReadOnly: false })
        {
            feature.MaxRequestBodySize = limit;
        }
        else if (context.Request.ContentLength is null && context.Request.Body != Stream.Null)
        {
            context.Request.Body = new LimitedReadStream(context.Request.Body, limit, TooLarge(limit));
        }

        return next(context);
    }

    private static bool IsBodilessFormRequest(HttpContext context) =>
        context.Features.Get<IHttpRequestBodyDetectionFeature>()?.CanHaveBody != true
        && !context.Request.HasFormContentType
        && context.GetEndpoint()?.Metadata.GetOrderedMetadata<IAcceptsMetadata>()
            .Any(accepts => accepts.ContentTypes.Any(type => type.StartsWith("multipart/form-data", StringComparison.OrdinalIgnoreCase))) == true;

    private static bool UnknownCharset(string? contentType)
    {
        if (string.IsNullOrEmpty(contentType) || !Microsoft.Net.Http.Headers.MediaTypeHeaderValue.TryParse(contentType, out var media))
        {
            return false;
        }

        var charset = media.Charset.Value?.Trim('"');
        if (string.IsNullOrEmpty(charset))
        {
            return false;
        }

        try
        {
            System.Text.Encoding.GetEncoding(charset);
            return false;
        }
        catch (ArgumentException)
        {
            return true;
        }
    }

    private static string TooLarge(long limit) =>
        string.Create(CultureInfo.InvariantCulture, $"Request body exceeds the maximum size of {limit} bytes");

    /// <summary>Counts what is read and fails with 413 past the limit (for hosts without Kestrel's own limit).</summary>
    private sealed class LimitedReadStream(Stream inner, long limit, string message) : Stream
    {
        private long _read;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => _read; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Count(inner.Read(buffer, offset, count));

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            Count(await inner.ReadAsync(buffer, cancellationToken));

        public override async Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            Count(await inner.ReadAsync(buffer.AsMemory(offset, count), cancellationToken));

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        private int Count(int read)
        {
            _read += read;
            return _read > limit ? throw new BadHttpRequestException(message, StatusCodes.Status413PayloadTooLarge) : read;
        }
    }
}

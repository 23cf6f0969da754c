using System.Text.Json;
using Capstan.Infrastructure.Errors;
using Microsoft.AspNetCore.WebUtilities;

namespace Capstan.Api.Errors;

public static class ErrorResponseWriter
{
    private static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web);

    /// <summary>Writes <c>{"error", "message", "statusCode"}</c> (plus <c>details</c> and, for 5xx, <c>requestId</c>).</summary>
    public static Task WriteAsync(
        HttpContext context,
        int statusCode,
        string message,
        string? error = null,
        IReadOnlyDictionary<string, string[]>? details = null,
        IReadOnlyDictionary<string, string>? headers = null)
    {
        var response = context.Response;
        response.Clear();
        response.StatusCode = statusCode;
        response.ContentType = "application/json; charset=utf-8";
        if (headers is not null)
        {
            foreach (var (name, value) in headers)
            {
                response.Headers[name] = value;
            }
        }

        var body = new ErrorResponse(
            error ?? ReasonPhrases.GetReasonPhrase(statusCode),
            message,
            statusCode,
            details,
            statusCode >= 500 ? context.TraceIdentifier : null);
        return JsonSerializer.SerializeAsync(response.Body, body, Options, context.RequestAborted);
    }
}

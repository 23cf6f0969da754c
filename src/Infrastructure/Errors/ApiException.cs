using Microsoft.AspNetCore.Http;

namespace Capstan.Infrastructure.Errors;

/// <summary>
/// A failure with a status code and a message safe to show the caller. The error middleware turns it into
/// <c>{"error", "message", "statusCode"[, "details"]}</c>; <see cref="Error"/> overrides the reason phrase where an
/// upstream client reads a machine code there.
/// </summary>
public class ApiException(int statusCode, string message, string? error = null) : Exception(message)
{
    public int StatusCode { get; } = statusCode;

    public string? Error { get; } = error;

    /// <summary>Field-level problems, for 400s (<c>{"field": ["message"]}</c>).</summary>
    public IReadOnlyDictionary<string, string[]>? Details { get; init; }

    /// <summary>Response headers the failure implies (for example <c>Retry-After</c>).</summary>
    public IReadOnlyDictionary<string, string>? Headers { get; init; }
}

public sealed class BadRequestException(string message, string? error = null) : ApiException(StatusCodes.Status400BadRequest, message, error)
{
    /// <summary>A 400 naming one field, shaped like a validation failure.</summary>
    public static BadRequestException ForField(string field, string message) =>
        new(message) { Details = new Dictionary<string, string[]> { [field] = [message] } };
}

public sealed class UnauthorizedException(string message = "Authentication required", string? error = null)
    : ApiException(StatusCodes.Status401Unauthorized, message, error);

public sealed class ForbiddenException(string message = "Permission denied", string? error = null)
    : ApiException(StatusCodes.Status403Forbidden, message, error);

public sealed class NotFoundException(string message, string? error = null) : ApiException(StatusCodes.Status404NotFound, message, error);

public sealed class ConflictException(string message, string? error = null) : ApiException(StatusCodes.Status409Conflict, message, error);

public sealed class GoneException(string message, string? error = null) : ApiException(StatusCodes.Status410Gone, message, error);

public sealed class PayloadTooLargeException(string message) : ApiException(StatusCodes.Status413PayloadTooLarge, message);

public sealed class TooManyRequestsException : ApiException
{
    public TooManyRequestsException(TimeSpan retryAfter, string message = "Rate limit exceeded. Please try again later.")
        : base(StatusCodes.Status429TooManyRequests, message)
    {
        RetryAfter = retryAfter;
        Headers = new Dictionary<string, string> { ["Retry-After"] = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture) };
    }

    public TimeSpan RetryAfter { get; }
}

/// <summary>A dependency (database, cluster, a configured tool) is not there; the message names it.</summary>
public sealed class ServiceUnavailableException(string message, string? error = null)
    : ApiException(StatusCodes.Status503ServiceUnavailable, message, error);

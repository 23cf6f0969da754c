using System.Text.Json;
using System.Text.RegularExpressions;
using Capstan.Infrastructure.Errors;
using FluentValidation;
using Npgsql;

namespace Capstan.Api.Errors;

/// <summary>
/// The single place failures become responses: every exception and every empty 4xx/5xx (no route, wrong method,
/// auth challenges) leaves as <c>{"error", "message", "statusCode"}</c>. Nothing internal is ever written: unknown
/// failures are a 500 with the request id, and the exception goes to the log only.
/// </summary>
public sealed partial class ErrorHandlingMiddleware(RequestDelegate next, ILogger<ErrorHandlingMiddleware> logger)
{
    public async Task InvokeAsync(HttpContext context)
    {
        try
        {
            await next(context);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client went away; there is nobody to answer.
            return;
        }
        catch (Exception exception)
        {
            if (context.Response.HasStarted)
            {
                logger.LogError(exception, "Request failed after the response started");
                context.Abort();
                return;
            }

            await WriteAsync(context, exception);
            return;
        }

        if (!context.Response.HasStarted && context.Response.StatusCode == 400 && IsEmptyBody(context.Response)
            && ParameterBindingFailure.Find(context) is { } parameter)
        {
            // The compile-time request delegates answer an unparsable optional value with a bare 400; name it.
            var message = $"Invalid value for '{parameter}'";
            await ErrorResponseWriter.WriteAsync(context, 400, message, details: new Dictionary<string, string[]> { [parameter] = [message] });
            return;
        }

        if (!context.Response.HasStarted && context.Response.StatusCode >= 400 && IsEmptyBody(context.Response))
        {
            await ErrorResponseWriter.WriteAsync(context, context.Response.StatusCode, MessageForStatus(context));
        }
    }

    private async Task WriteAsync(HttpContext context, Exception exception)
    {
        switch (exception)
        {
            case ApiException api:
                await ErrorResponseWriter.WriteAsync(context, api.StatusCode, api.Message, api.Error, api.Details, api.Headers);
                break;
            case ValidationException validation:
                var details = validation.Errors
                    .GroupBy(failure => string.IsNullOrEmpty(failure.PropertyName) ? "body" : failure.PropertyName)
                    .ToDictionary(group => group.Key, group => group.Select(failure => failure.ErrorMessage).Distinct().ToArray());
                await ErrorResponseWriter.WriteAsync(context, 400, Summarise(details), details: details);
                break;
            case BadHttpRequestException badRequest:
                var (message, field) = DescribeBadRequest(badRequest);
                await ErrorResponseWriter.WriteAsync(
                    context,
                    badRequest.StatusCode,
                    message,
                    details: field is null ? null : new Dictionary<string, string[]> { [field] = [message] });
                break;
            case JsonException json:
                await ErrorResponseWriter.WriteAsync(context, 400, DescribeJson(json));
                break;
            case InvalidOperationException when HasInner<System.Text.DecoderFallbackException>(exception):
                // System.Text.Json reading a string that is not valid UTF-8 (JsonElement, JsonNode, dictionaries).
                await ErrorResponseWriter.WriteAsync(context, 400, "Malformed JSON body: text is not valid UTF-8");
                break;
            case PostgresException postgres when MapPostgres(postgres) is { } mapped:
                logger.LogInformation("Database refused the request: {SqlState} {Constraint}", postgres.SqlState, postgres.ConstraintName);
                await ErrorResponseWriter.WriteAsync(context, mapped.Status, mapped.Message, headers: mapped.Status == 503 ? RetrySoon : null);
                break;
            case NpgsqlException npgsql when npgsql is not PostgresException:
                logger.LogWarning(npgsql, "Database unavailable");
                await ErrorResponseWriter.WriteAsync(context, 503, "Database unavailable", headers: RetrySoon);
                break;
            case TimeoutException:
                logger.LogWarning(exception, "A dependency timed out");
                await ErrorResponseWriter.WriteAsync(context, 503, "A dependency did not answer in time", headers: RetrySoon);
                break;
            case not null when CausedByDatabaseOutage(exception):
                // A wrapper (a cache's shared task, a stream) around a lost database connection is still an outage.
                logger.LogWarning(exception, "Database unavailable (wrapped)");
                await ErrorResponseWriter.WriteAsync(context, 503, "Database unavailable", headers: RetrySoon);
                break;
            default:
                logger.LogError(exception, "Unhandled exception");
                await ErrorResponseWriter.WriteAsync(context, 500, "An unexpected error occurred");
                break;
        }
    }

    private static readonly Dictionary<string, string> RetrySoon = new() { ["Retry-After"] = "5" };

    private static (int Status, string Message)? MapPostgres(PostgresException exception) => exception.SqlState switch
    {
        PostgresErrorCodes.UniqueViolation => (409, "A resource with the same identifying fields already exists"),
        PostgresErrorCodes.ForeignKeyViolation => (409, "The change conflicts with related resources"),
        PostgresErrorCodes.SerializationFailure or PostgresErrorCodes.DeadlockDetected => (409, "A concurrent change conflicted with this one; retry"),
        // A time-partitioned row for a day whose partition is not made yet (the older days follow just after ready);
        // the routine's name, unlike the message, is not translated.
        PostgresErrorCodes.CheckViolation when exception.Routine == "ExecFindPartition" =>
            (503, "Storage for that time is being prepared; retry shortly"),
        PostgresErrorCodes.CheckViolation or PostgresErrorCodes.NotNullViolation => (400, "The request violates a data constraint"),
        PostgresErrorCodes.StringDataRightTruncation or PostgresErrorCodes.NumericValueOutOfRange => (400, "A value is out of range"),
        PostgresErrorCodes.InvalidTextRepresentation or PostgresErrorCodes.InvalidDatetimeFormat => (400, "A value has an invalid format"),
        // A NUL character or bytes the database encoding cannot hold, in any text a caller sent.
        PostgresErrorCodes.CharacterNotInRepertoire or PostgresErrorCodes.UntranslatableCharacter => (400, "A value contains characters that are not allowed"),
        PostgresErrorCodes.QueryCanceled => (503, "The database did not answer in time"),
        PostgresErrorCodes.AdminShutdown or PostgresErrorCodes.CrashShutdown or PostgresErrorCodes.CannotConnectNow
            or PostgresErrorCodes.TooManyConnections => (503, "Database unavailable"),
        _ when exception.SqlState.StartsWith("08", StringComparison.Ordinal) => (503, "Database unavailable"),
        _ => null,
    };

    private static (string Message, string? Field) DescribeBadRequest(BadHttpRequestException exception)
    {
        if (exception.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return (exception.Message.StartsWith("Request body exceeds", StringComparison.Ordinal) ? exception.Message : "Request body too large", null);
        }

        if (exception.StatusCode == StatusCodes.Status415UnsupportedMediaType)
        {
            return ("Content-Type must be application/json", null);
        }

        if (exception.InnerException is JsonException json)
        {
            return (DescribeJson(json), null);
        }

        var message = exception.Message;
        if (BindFailure().Match(message) is { Success: true } bind)
        {
            var name = CamelCase(bind.Groups["name"].Value);
            return ($"Invalid value for '{name}'", name);
        }

        if (RequiredMissing().Match(message) is { Success: true } missing)
        {
            var name = CamelCase(missing.Groups["name"].Value);
            return ($"'{name}' is required", name);
        }

        if (message.Contains("no body was provided", StringComparison.Ordinal) || message.Contains("body was empty", StringComparison.OrdinalIgnoreCase))
        {
            return ("A JSON request body is required", null);
        }

        return exception.StatusCode == 400 ? ("Bad request", null) : (ReasonPhraseOrDefault(exception.StatusCode), null);
    }

    // [AsParameters] properties surface as PascalCase; callers spell query parameters in camelCase.
    private static string CamelCase(string name) => name.Length == 0 ? name : char.ToLowerInvariant(name[0]) + name[1..];

    private static string DescribeJson(JsonException exception)
    {
        if (exception.Message.Contains("maximum configured depth", StringComparison.Ordinal))
        {
            return "JSON body is nested too deeply";
        }

        var path = string.IsNullOrEmpty(exception.Path) || exception.Path == "$" ? null : exception.Path;
        return path is null ? "Malformed JSON body" : $"Malformed JSON body: invalid value at {path}";
    }

    private static bool CausedByDatabaseOutage(Exception exception)
    {
        for (var inner = exception.InnerException; inner is not null; inner = inner.InnerException)
        {
            var outage = inner switch
            {
                PostgresException postgres => MapPostgres(postgres) is { Status: 503 },
                NpgsqlException or System.Net.Sockets.SocketException => true,
                _ => false,
            };
            if (outage)
            {
                return true;
            }
        }

        return false;
    }

    private static bool HasInner<T>(Exception exception)
        where T : Exception
    {
        for (var inner = exception.InnerException; inner is not null; inner = inner.InnerException)
        {
            if (inner is T)
            {
                return true;
            }
        }

        return false;
    }

    private static string Summarise(Dictionary<string, string[]> details) =>
        details.Count == 1 && details.First().Value.Length == 1 ? details.First().Value[0] : "Validation failed";

    private static bool IsEmptyBody(HttpResponse response) =>
        response.ContentLength is null or 0 && string.IsNullOrEmpty(response.ContentType);

    private static string MessageForStatus(HttpContext context) => context.Response.StatusCode switch
    {
        401 => "Authentication required",
        403 => "Permission denied",
        404 => context.GetEndpoint() is null ? $"No route for {context.Request.Method} {context.Request.Path}" : "Not found",
        405 => $"Method {context.Request.Method} is not allowed here",
        415 => "Content-Type must be application/json",
        _ => ReasonPhraseOrDefault(context.Response.StatusCode),
    };

    private static string ReasonPhraseOrDefault(int status) =>
        Microsoft.AspNetCore.WebUtilities.ReasonPhrases.GetReasonPhrase(status) is { Length: > 0 } phrase ? phrase : "Error";

    [GeneratedRegex("""Failed to bind parameter "[^"]*?(?<name>[A-Za-z0-9_]+)" from""")]
    private static partial Regex BindFailure();

    [GeneratedRegex("""Required parameter "[^"]*?(?<name>[A-Za-z0-9_]+)" was not provided""")]
    private static partial Regex RequiredMissing();
}

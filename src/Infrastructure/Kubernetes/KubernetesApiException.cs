using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Capstan.Infrastructure.Errors;

namespace Capstan.Infrastructure.Kubernetes;

/// <summary>
/// A failed Kubernetes call, already translated for our callers: the API server's <c>Status</c> (or the transport
/// failure) becomes a 4xx or a 503, never a 500, with a message scrubbed of URLs, addresses, tokens and keys.
/// <see cref="KubernetesStatusCode"/> and <see cref="Reason"/> keep what the cluster said (0 when it said nothing).
/// </summary>
public sealed partial class KubernetesApiException : ApiException
{
    public KubernetesApiException(int statusCode, string message, int kubernetesStatusCode, string? reason, string? error = null)
        : base(statusCode, message, error)
    {
        KubernetesStatusCode = kubernetesStatusCode;
        Reason = reason;
    }

    /// <summary>The API server's HTTP status (0 when it was not reached).</summary>
    public int KubernetesStatusCode { get; }

    /// <summary>The Status <c>reason</c> (<c>NotFound</c>, <c>AlreadyExists</c>, <c>Conflict</c>, <c>Expired</c>…) or a
    /// transport reason (<c>Unreachable</c>, <c>Timeout</c>).</summary>
    public string? Reason { get; }

    public bool IsNotFound => KubernetesStatusCode == 404;

    public bool IsConflict => KubernetesStatusCode == 409;

    /// <summary>A watch or list position the server no longer has (410 Gone, reason Expired): list again.</summary>
    public bool IsExpired => KubernetesStatusCode == 410 || Reason is "Expired" or "Gone";

    /// <summary>Translates an API server response that was not a success.</summary>
    public static KubernetesApiException FromResponse(int status, string? body, string? retryAfterHeader, string cluster)
    {
        var parsed = ParseStatus(body);
        var reason = parsed?.Reason;
        var code = parsed?.Code is > 0 ? parsed.Code : status;
        var said = Sanitize(parsed?.Message);
        switch (code)
        {
            case 400 or 405 or 406 or 413 or 415:
                return new KubernetesApiException(400, said ?? "The cluster rejected the request as malformed", code, reason ?? "BadRequest");
            case 401:
                return new KubernetesApiException(503, $"Cluster '{cluster}' rejected the stored credentials (401 Unauthorized); update the cluster's credentials", code, reason ?? "Unauthorized");
            case 403:
                return new KubernetesApiException(403, said is null ? $"Cluster '{cluster}' denied the request" : $"Cluster '{cluster}' denied the request: {said}", code, reason ?? "Forbidden");
            case 404:
                return new KubernetesApiException(404, said ?? "Not found in the cluster", code, reason ?? "NotFound");
            case 409:
                return new KubernetesApiException(409, said ?? "The object was changed or already exists", code, reason ?? "Conflict");
            case 410:
                return new KubernetesApiException(410, "The list or watch position expired; start again without a continue token", code, reason ?? "Expired");
            case 422:
                return new KubernetesApiException(400, said ?? "The cluster rejected the object as invalid", code, reason ?? "Invalid") { Details = Causes(parsed) };
            case 429:
                var retry = parsed?.RetryAfterSeconds ?? (int.TryParse(retryAfterHeader, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds) ? seconds : 1);
                return new KubernetesApiException(429, $"Cluster '{cluster}' is throttling requests; retry in {Math.Max(1, retry)} s", code, reason ?? "TooManyRequests")
                {
                    Headers = new Dictionary<string, string> { ["Retry-After"] = Math.Max(1, retry).ToString(CultureInfo.InvariantCulture) },
                };
            case >= 400 and < 500:
                return new KubernetesApiException(400, said ?? $"The cluster refused the request ({code})", code, reason);
            default:
                var detail = said is null ? string.Empty : $": {said}";
                return new KubernetesApiException(503, $"Kubernetes cluster '{cluster}' is unavailable ({code}){detail}", code, reason ?? "ServiceUnavailable", "Service Unavailable");
        }
    }

    /// <summary>The API server could not be reached (DNS, refused connection, TLS).</summary>
    public static KubernetesApiException Unreachable(string cluster, Exception exception)
    {
        var why = exception switch
        {
            HttpRequestException { InnerException: System.Security.Authentication.AuthenticationException } =>
                "the TLS handshake failed (is the CA certificate right?)",
            HttpRequestException { HttpRequestError: HttpRequestError.NameResolutionError } => "its host name does not resolve",
            HttpRequestException { HttpRequestError: HttpRequestError.ConnectionError } => "the connection was refused or dropped",
            HttpRequestException { HttpRequestError: HttpRequestError.SecureConnectionError } => "the TLS handshake failed (is the CA certificate right?)",
            _ => "the connection failed",
        };
        return new KubernetesApiException(503, $"Kubernetes cluster '{cluster}' is unreachable: {why}", 0, "Unreachable", "Service Unavailable");
    }

    /// <summary>Our own deadline for the call passed.</summary>
    public static KubernetesApiException TimedOut(string cluster, TimeSpan timeout, string operation) =>
        new(503, string.Create(CultureInfo.InvariantCulture, $"Kubernetes cluster '{cluster}' did not answer within {timeout.TotalSeconds:0.#} s ({operation})"), 0, "Timeout", "Service Unavailable");

    /// <summary>Removes what must not reach a caller from a message the cluster wrote: URLs, IP addresses, bearer
    /// tokens, JWTs and PEM blocks.</summary>
    public static string? Sanitize(string? message)
    {
        if (string.IsNullOrWhiteSpace(message))
        {
            return null;
        }

        var text = Pem().Replace(message, "[redacted key]");
        text = Jwt().Replace(text, "[redacted token]");
        text = Bearer().Replace(text, "Bearer [redacted]");
        text = Url().Replace(text, "[url]");
        text = Address().Replace(text, "[address]");
        text = text.Trim();
        return text.Length > 500 ? text[..500] + "…" : text;
    }

    /// <summary>The Status object of an error body, if it is one.</summary>
    public static KubernetesStatus? ParseStatus(string? body)
    {
        if (string.IsNullOrWhiteSpace(body) || body.TrimStart()[0] != '{')
        {
            return null;
        }

        try
        {
            return JsonNode.Parse(body) is JsonObject obj ? KubernetesStatus.From(obj) : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static Dictionary<string, string[]>? Causes(KubernetesStatus? status)
    {
        if (status?.Causes is not { Count: > 0 } causes)
        {
            return null;
        }

        return causes
            .GroupBy(cause => string.IsNullOrEmpty(cause.Field) ? "body" : cause.Field)
            .ToDictionary(group => group.Key, group => group.Select(cause => Sanitize(cause.Message) ?? cause.Reason ?? "invalid").Distinct().ToArray());
    }

    [GeneratedRegex(@"-----BEGIN [A-Z ]+-----[\s\S]*?(-----END [A-Z ]+-----|$)")]
    private static partial Regex Pem();

    [GeneratedRegex(@"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*")]
    private static partial Regex Jwt();

    [GeneratedRegex(@"(?i)bearer\s+[A-Za-z0-9._~+/=-]+")]
    private static partial Regex Bearer();

    [GeneratedRegex(@"(?i)\b[a-z][a-z0-9+.-]*://[^\s""'<>]+")]
    private static partial Regex Url();

    [GeneratedRegex(@"\b(\d{1,3}\.){3}\d{1,3}(:\d+)?\b|\[[0-9a-fA-F:]+\](:\d+)?")]
    private static partial Regex Address();
}

/// <summary>One cause of an invalid request, as a Status lists it.</summary>
public sealed record KubernetesStatusCause(string? Reason, string? Message, string? Field);

/// <summary>A Kubernetes <c>Status</c> object (the body of every API error).</summary>
public sealed record KubernetesStatus(string? Status, string? Message, string? Reason, int Code, IReadOnlyList<KubernetesStatusCause> Causes, int? RetryAfterSeconds)
{
    public static KubernetesStatus? From(JsonObject obj)
    {
        if (obj["kind"]?.ToString() != "Status" && obj["code"] is null)
        {
            return null;
        }

        var details = obj["details"] as JsonObject;
        var causes = (details?["causes"] as JsonArray ?? [])
            .OfType<JsonObject>()
            .Select(cause => new KubernetesStatusCause(cause["reason"]?.ToString(), cause["message"]?.ToString(), cause["field"]?.ToString()))
            .ToList();
        return new KubernetesStatus(
            obj["status"]?.ToString(),
            obj["message"]?.ToString(),
            obj["reason"]?.ToString(),
            obj["code"] is JsonValue code && code.TryGetValue<int>(out var number) ? number : 0,
            causes,
            details?["retryAfterSeconds"] is JsonValue retry && retry.TryGetValue<int>(out var seconds) ? seconds : null);
    }
}

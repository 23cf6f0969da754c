using System.Text.Json.Serialization;

namespace Capstan.Infrastructure.Errors;

/// <summary>The one error shape of every failure (DESIGN §1.5).</summary>
public sealed record ErrorResponse(
    string Error,
    string Message,
    int StatusCode,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] IReadOnlyDictionary<string, string[]>? Details = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? RequestId = null);

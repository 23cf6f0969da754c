using System.Buffers.Text;
using System.Text.Json;
using Capstan.Infrastructure.Errors;

namespace Capstan.Infrastructure.Paging;

/// <summary>
/// Opaque cursors for keyset paging over tables that grow without bound (logs, metrics, audit, events): the last
/// row's sort key, serialised and base64url-encoded. A cursor that does not decode is a 400, not a 500.
/// </summary>
public static class KeysetCursor
{
    private static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web);

    public static string Encode<T>(T position) => Base64Url.EncodeToString(JsonSerializer.SerializeToUtf8Bytes(position, Options));

    public static T? Decode<T>(string? cursor, string parameterName = "cursor")
        where T : class
    {
        if (string.IsNullOrEmpty(cursor))
        {
            return null;
        }

        try
        {
            if (cursor.Length > 1024)
            {
                throw new FormatException("cursor too long");
            }

            return JsonSerializer.Deserialize<T>(Base64Url.DecodeFromChars(cursor), Options)
                ?? throw new FormatException("empty cursor");
        }
        catch (Exception exception) when (exception is FormatException or JsonException)
        {
            throw BadRequestException.ForField(parameterName, $"{parameterName} is not a cursor this API issued");
        }
    }
}

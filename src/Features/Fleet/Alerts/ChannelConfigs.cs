using System.Net.Mail;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Capstan.Infrastructure.Crypto;

namespace Capstan.Features.Fleet.Alerts;

/// <summary>
/// Notification channel configurations (reference sindri.md §8.6): WEBHOOK <c>{url, method?, headers?, secret?}</c>,
/// SLACK <c>{webhook_url, channel?, username?, icon_emoji?}</c>, EMAIL <c>{recipients[1..20], subject_prefix?}</c>,
/// IN_APP <c>{user_ids?}</c>; snake_case or camelCase in, snake_case stored. The whole configuration is sealed with the
/// envelope cipher; what the API shows is a masked copy (webhook secret and credential-looking headers as
/// <c>***</c>, the Slack URL's token as <c>/***</c>). A masked value sent back on update keeps the stored one.
/// </summary>
internal static partial class ChannelConfigs
{
    public const string Mask = "***";

    public static (JsonObject? Config, List<KeyValuePair<string, string>> Errors) Parse(string? type, JsonElement? json)
    {
        var errors = new List<KeyValuePair<string, string>>();
        if (json is not { ValueKind: JsonValueKind.Object } config)
        {
            errors.Add(new("config", "config must be an object"));
            return (null, errors);
        }

        void Fail(string field, string message) => errors.Add(new($"config.{field}", message));

        var parsed = type?.Trim().ToUpperInvariant() switch
        {
            "WEBHOOK" => Webhook(config, Fail),
            "SLACK" => Slack(config, Fail),
            "EMAIL" => Email(config, Fail),
            "IN_APP" => InApp(config, Fail),
            _ => null,
        };
        return (errors.Count == 0 ? parsed : null, errors);
    }

    /// <summary>The copy the API shows.</summary>
    public static JsonObject Masked(JsonObject config)
    {
        var masked = (JsonObject)config.DeepClone();
        if (masked["secret"] is not null)
        {
            masked["secret"] = Mask;
        }

        if (masked["headers"] is JsonObject headers)
        {
            foreach (var name in headers.Select(header => header.Key).ToList())
            {
                if (CredentialHeader().IsMatch(name))
                {
                    headers[name] = Mask;
                }
            }
        }

        if (masked["webhook_url"]?.GetValue<string>() is { } url)
        {
            masked["webhook_url"] = MaskUrl(url);
        }

        return masked;
    }

    /// <summary>An updated configuration where masked values the client sent back stand for the stored ones.</summary>
    public static JsonObject KeepMaskedValues(JsonObject updated, JsonObject stored)
    {
        var merged = (JsonObject)updated.DeepClone();
        if (merged["secret"]?.GetValue<string>() == Mask)
        {
            merged["secret"] = stored["secret"]?.DeepClone();
        }

        if (merged["headers"] is JsonObject headers && stored["headers"] is JsonObject storedHeaders)
        {
            foreach (var name in headers.Where(header => header.Value?.GetValue<string>() == Mask).Select(header => header.Key).ToList())
            {
                headers[name] = storedHeaders[name]?.DeepClone();
            }
        }

        if (merged["webhook_url"]?.GetValue<string>() is { } url && stored["webhook_url"]?.GetValue<string>() is { } storedUrl && url == MaskUrl(storedUrl))
        {
            merged["webhook_url"] = storedUrl;
        }

        return merged;
    }

    public static byte[] Seal(EnvelopeCipher cipher, Guid channelId, JsonObject config) =>
        cipher.EncryptString(config.ToJsonString(), $"notification_channels:{channelId}");

    public static JsonObject Unseal(EnvelopeCipher cipher, Guid channelId, byte[] sealedConfig) =>
        JsonNode.Parse(cipher.DecryptString(sealedConfig, $"notification_channels:{channelId}"))!.AsObject();

    private static string MaskUrl(string url)
    {
        var cut = url.TrimEnd('/').LastIndexOf('/');
        return cut > "https://".Length ? url[..cut] + "/" + Mask : Mask;
    }

    private static JsonObject Webhook(JsonElement json, Action<string, string> fail)
    {
        var config = new JsonObject();
        if (HttpUrl(Text(json, "url")) is { } url)
        {
            config["url"] = url;
        }
        else
        {
            fail("url", "url must be an absolute http(s) URL");
        }

        var method = (Text(json, "method") ?? "POST").ToUpperInvariant();
        if (method is not ("POST" or "PUT"))
        {
            fail("method", "method must be POST or PUT");
        }

        config["method"] = method;
        if (json.TryGetProperty("headers", out var headers) && headers.ValueKind != JsonValueKind.Null)
        {
            if (headers.ValueKind != JsonValueKind.Object || headers.EnumerateObject().Count() > 20
                || headers.EnumerateObject().Any(header => header.Value.ValueKind != JsonValueKind.String || !HeaderName().IsMatch(header.Name) || header.Value.GetString()!.Length > 1024))
            {
                fail("headers", "headers must map at most 20 header names to string values");
            }
            else
            {
                config["headers"] = JsonNode.Parse(headers.GetRawText());
            }
        }

        if (Text(json, "secret") is { } secret)
        {
            if (secret.Length is 0 or > 256)
            {
                fail("secret", "secret must be 1 to 256 characters");
            }

            config["secret"] = secret;
        }

        return config;
    }

    private static JsonObject Slack(JsonElement json, Action<string, string> fail)
    {
        var config = new JsonObject();
        if (HttpUrl(Text(json, "webhook_url", "webhookUrl")) is { } url)
        {
            config["webhook_url"] = url;
        }
        else
        {
            fail("webhook_url", "webhook_url must be an absolute http(s) URL (a Slack incoming webhook)");
        }

        foreach (var (snake, camel) in new[] { ("channel", "channel"), ("username", "username"), ("icon_emoji", "iconEmoji") })
        {
            if (Text(json, snake, camel) is { } value)
            {
                if (value.Length > 128)
                {
                    fail(snake, $"{snake} must be at most 128 characters");
                }

                config[snake] = value;
            }
        }

        return config;
    }

    private static JsonObject Email(JsonElement json, Action<string, string> fail)
    {
        var config = new JsonObject();
        var recipients = json.TryGetProperty("recipients", out var list) && list.ValueKind == JsonValueKind.Array
            ? list.EnumerateArray().Select(item => item.ValueKind == JsonValueKind.String ? item.GetString()!.Trim() : string.Empty).ToList()
            : [];
        if (recipients.Count is 0 or > 20 || !recipients.All(IsEmail))
        {
            fail("recipients", "recipients must list 1 to 20 e-mail addresses");
        }

        config["recipients"] = new JsonArray([.. recipients.Select(recipient => (JsonNode)JsonValue.Create(recipient))]);
        if (Text(json, "subject_prefix", "subjectPrefix") is { } prefix)
        {
            if (prefix.Length > 64)
            {
                fail("subject_prefix", "subject_prefix must be at most 64 characters");
            }

            config["subject_prefix"] = prefix;
        }

        return config;
    }

    private static JsonObject InApp(JsonElement json, Action<string, string> fail)
    {
        var config = new JsonObject();
        if ((json.TryGetProperty("user_ids", out var ids) || json.TryGetProperty("userIds", out ids)) && ids.ValueKind != JsonValueKind.Null)
        {
            if (ids.ValueKind != JsonValueKind.Array || !ids.EnumerateArray().All(id => id.ValueKind == JsonValueKind.String && Guid.TryParse(id.GetString(), out _)))
            {
                fail("user_ids", "user_ids must list user ids");
            }
            else
            {
                config["user_ids"] = JsonNode.Parse(ids.GetRawText());
            }
        }

        return config;
    }

    private static string? Text(JsonElement json, params string[] names)
    {
        foreach (var name in names)
        {
            if (json.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String)
            {
                return value.GetString()!.Trim();
            }
        }

        return null;
    }

    private static string? HttpUrl(string? value) =>
        Uri.TryCreate(value, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https" && value!.Length <= 2048 ? value : null;

    private static bool IsEmail(string value) => value.Length <= 254 && MailAddress.TryCreate(value, out var address) && address.Address == value;

    [GeneratedRegex("auth|token|key|secret|cookie|password", RegexOptions.IgnoreCase)]
    private static partial Regex CredentialHeader();

    [GeneratedRegex("^[A-Za-z0-9-]{1,64}$")]
    private static partial Regex HeaderName();
}

using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Shouldly;

namespace Capstan.Tests.Support;

public static class HttpAssertions
{
    /// <summary>Asserts the status and the one error shape: JSON with <c>error</c>, <c>message</c> and
    /// <c>statusCode</c> equal to the status. Returns the body for further checks.</summary>
    public static async Task<JsonElement> ShouldBeErrorAsync(this HttpResponseMessage response, HttpStatusCode status)
    {
        var text = await response.Content.ReadAsStringAsync();
        response.StatusCode.ShouldBe(status, text);
        response.Content.Headers.ContentType?.MediaType.ShouldBe("application/json", text);
        var body = JsonDocument.Parse(text).RootElement;
        body.GetProperty("error").GetString().ShouldNotBeNullOrWhiteSpace();
        body.GetProperty("message").GetString().ShouldNotBeNullOrWhiteSpace();
        body.GetProperty("statusCode").GetInt32().ShouldBe((int)status);
        return body;
    }

    /// <summary>Asserts the status and returns the JSON body.</summary>
    public static async Task<JsonElement> ShouldBeJsonAsync(this HttpResponseMessage response, HttpStatusCode status = HttpStatusCode.OK)
    {
        var text = await response.Content.ReadAsStringAsync();
        response.StatusCode.ShouldBe(status, text);
        return JsonDocument.Parse(text).RootElement;
    }

    public static Task<HttpResponseMessage> PostJsonAsync(this HttpClient client, string path, object body) =>
        client.PostAsJsonAsync(path, body);

    /// <summary>The property names of a JSON object, for pinning field names.</summary>
    public static IReadOnlyList<string> PropertyNames(this JsonElement element) =>
        [.. element.EnumerateObject().Select(property => property.Name)];
}

using System.Net;
using System.Text;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;

namespace Capstan.Api.Tests.Identity.Accounts;

public sealed class UpdatePreferencesTests(IdentitySsoFixture fixture) : SsoTest(fixture)
{
    [Fact]
    public async Task Merges_nested_objects_and_null_deletes()
    {
        var (client, user) = await Fixture.ClientAsAsync(BaseRole.Viewer);
        await PostAsync(client, """{"theme": "dark", "notifications": {"enabled": true, "events": ["failure"], "namespaces": ["prod"]}}""");

        var body = await (await PostAsync(client, """{"theme": null, "notifications": {"events": ["success", "error"], "namespaces": null}, "onboarding": {"adminChecklistDismissed": true}}"""))
            .ShouldBeJsonAsync();

        body.PropertyNames().ShouldBe(["success", "preferences"]);
        body.GetProperty("success").GetBoolean().ShouldBeTrue();
        var preferences = body.GetProperty("preferences");
        preferences.TryGetProperty("theme", out _).ShouldBeFalse();
        preferences.GetProperty("notifications").GetProperty("enabled").GetBoolean().ShouldBeTrue();
        preferences.GetProperty("notifications").GetProperty("events").EnumerateArray().Select(item => item.GetString()).ShouldBe(["success", "error"]);
        preferences.GetProperty("notifications").TryGetProperty("namespaces", out _).ShouldBeFalse();
        preferences.GetProperty("onboarding").GetProperty("adminChecklistDismissed").GetBoolean().ShouldBeTrue();
        (await Fixture.ScalarAsync<string>("SELECT preferences::text FROM identity.users WHERE id = @Id", new { user.Id }))
            .ShouldBe("""{"onboarding": {"adminChecklistDismissed": true}, "notifications": {"events": ["success", "error"], "enabled": true}}""");
        (await Fixture.ScalarAsync<string>("SELECT metadata::text FROM identity.audit_log WHERE action = 'preferences.update' ORDER BY occurred_at DESC LIMIT 1"))
            .ShouldBe("""{"updated_fields": ["theme", "notifications", "onboarding"]}""");
    }

    [Fact]
    public async Task Unknown_keys_are_dropped_as_zod_does()
    {
        var (client, _) = await Fixture.ClientAsAsync(BaseRole.Viewer);

        var preferences = (await (await PostAsync(client, """{"theme": "light", "fontSize": 14, "notifications": {"sound": "ding"}}""")).ShouldBeJsonAsync())
            .GetProperty("preferences");

        preferences.PropertyNames().ShouldBe(["theme", "notifications"]);
        preferences.GetProperty("notifications").PropertyNames().ShouldBeEmpty();
    }

    [Theory]
    [InlineData("""{"theme": "blue"}""", "theme")]
    [InlineData("""{"theme": 1}""", "theme")]
    [InlineData("""{"notifications": "on"}""", "notifications")]
    [InlineData("""{"notifications": {"enabled": "yes"}}""", "notifications.enabled")]
    [InlineData("""{"notifications": {"events": ["failure", "panic"]}}""", "notifications.events.1")]
    [InlineData("""{"notifications": {"resourceTypes": "kustomizations"}}""", "notifications.resourceTypes")]
    [InlineData("""{"notifications": {"namespaces": [42]}}""", "notifications.namespaces.0")]
    [InlineData("""{"onboarding": {"adminChecklistCompletedItems": ["clusters", "coffee"]}}""", "onboarding.adminChecklistCompletedItems.1")]
    [InlineData("""{"onboarding": {"adminChecklistDismissed": 1}}""", "onboarding.adminChecklistDismissed")]
    [InlineData("""["theme"]""", "body")]
    public async Task Each_problem_is_a_400_naming_its_path(string json, string path)
    {
        var (client, user) = await Fixture.ClientAsAsync(BaseRole.Viewer);

        var response = await PostAsync(client, json);

        (await response.ShouldBeErrorAsync(HttpStatusCode.BadRequest)).GetProperty("details").TryGetProperty(path, out _).ShouldBeTrue();
        (await Fixture.ScalarAsync<string>("SELECT preferences::text FROM identity.users WHERE id = @Id", new { user.Id })).ShouldBe("{}");
    }

    [Fact]
    public async Task Thirty_changes_a_minute_then_429()
    {
        var (client, _) = await Fixture.ClientAsAsync(BaseRole.Viewer);
        for (var i = 0; i < 30; i++)
        {
            (await PostAsync(client, """{"theme": "dark"}""")).StatusCode.ShouldBe(HttpStatusCode.OK);
        }

        var limited = await PostAsync(client, """{"theme": "dark"}""");

        await limited.ShouldBeErrorAsync(HttpStatusCode.TooManyRequests);
    }

    [Fact]
    public async Task Anonymous_is_401()
    {
        await (await PostAsync(Client, """{"theme": "dark"}""")).ShouldBeErrorAsync(HttpStatusCode.Unauthorized);
    }

    private static Task<HttpResponseMessage> PostAsync(HttpClient client, string json) =>
        client.PostAsync("/api/v1/user/preferences", new StringContent(json, Encoding.UTF8, "application/json"));
}

using System.Text.Json;
using Capstan.Features.Identity.Accounts;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using FluentValidation;

namespace Capstan.Features.Tests.Identity.Accounts;

public sealed class UpdatePreferencesTests(IdentitySsoFixture fixture) : SsoHandlerTest(fixture)
{
    [Theory]
    [InlineData("""{"theme": "dark", "notifications": {"enabled": true}}""", """{"notifications": {"events": ["info"]}}""", """{"theme":"dark","notifications":{"enabled":true,"events":["info"]}}""")]
    [InlineData("""{"theme": "dark"}""", """{"theme": null}""", "{}")]
    [InlineData("""{"notifications": {"enabled": true}}""", """{"notifications": null}""", "{}")]
    [InlineData("""{"onboarding": {"adminChecklistCompletedItems": ["clusters"]}}""", """{"onboarding": {"adminChecklistCompletedItems": ["backups", "settings"]}}""", """{"onboarding":{"adminChecklistCompletedItems":["backups","settings"]}}""")]
    [InlineData("{}", """{"notifications": {"namespaces": null}}""", """{"notifications":{}}""")]
    public async Task Applies_an_rfc_7386_merge(string before, string patch, string after)
    {
        var user = await Fixture.CreateUserAsync();
        await Fixture.SendAsAsync(user, new UpdatePreferences.Command(JsonDocument.Parse(before).RootElement));

        var response = await Fixture.SendAsAsync(user, new UpdatePreferences.Command(JsonDocument.Parse(patch).RootElement));

        response.Preferences.ToJsonString().ShouldBe(after);
    }

    [Fact]
    public async Task Reports_every_problem_by_path()
    {
        var user = await Fixture.CreateUserAsync(BaseRole.Admin);

        var failure = await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(user, new UpdatePreferences.Command(
            JsonDocument.Parse("""{"theme": "neon", "notifications": {"events": ["ok"], "enabled": 0}}""").RootElement)));

        failure.Errors.Select(error => error.PropertyName).ShouldBe(["theme", "notifications.enabled", "notifications.events.0"], ignoreOrder: true);
    }
}

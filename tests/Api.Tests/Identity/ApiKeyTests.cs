using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;

namespace Capstan.Api.Tests.Identity;

public sealed class ApiKeyTests(ApiFixture fixture) : ApiTest(fixture)
{
    [Fact]
    public async Task A_created_key_is_shown_once_and_works_as_bearer_and_x_api_key()
    {
        var (owner, user) = await Fixture.ClientAsAsync(BaseRole.Operator);

        var created = await owner.PostAsJsonAsync("/api/v1/api-keys", new { name = "ci", expiresInDays = 30 });
        var body = await created.ShouldBeJsonAsync(HttpStatusCode.Created);
        body.PropertyNames().ShouldBe(["id", "name", "keyPrefix", "role", "createdAt", "expiresAt", "key"]);
        var key = body.GetProperty("key").GetString()!;
        key.ShouldStartWith("cap_");
        body.GetProperty("keyPrefix").GetString().ShouldBe(key[..12]);
        body.GetProperty("role").GetString().ShouldBe("operator");

        var bearer = Fixture.CreateClient();
        bearer.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        var header = Fixture.CreateClient();
        header.DefaultRequestHeaders.Add("X-Api-Key", key);
        (await bearer.GetAsync("/api/v1/version")).StatusCode.ShouldBe(HttpStatusCode.OK);
        (await header.GetAsync("/api/v1/version")).StatusCode.ShouldBe(HttpStatusCode.OK);

        var list = await (await owner.GetAsync("/api/v1/api-keys")).ShouldBeJsonAsync();
        list.GetRawText().ShouldNotContain(key);
        list.GetProperty("apiKeys").EnumerateArray().ShouldContain(item => item.GetProperty("name").GetString() == "ci");
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM identity.api_keys WHERE key_prefix = @Prefix AND user_id = @Id", new { Prefix = key[..12], user.Id })).ShouldBe(1);
        (await Fixture.ScalarAsync<string>("SELECT metadata::text FROM identity.audit_log WHERE action = 'api_key.create'"))!.ShouldNotContain(key);
    }

    [Fact]
    public async Task A_key_limited_to_a_lower_role_only_carries_that_role()
    {
        var (owner, _) = await Fixture.ClientAsAsync(BaseRole.Admin);
        var key = (await (await owner.PostAsJsonAsync("/api/v1/api-keys", new { name = "read only", role = "viewer" })).ShouldBeJsonAsync(HttpStatusCode.Created))
            .GetProperty("key").GetString()!;
        var limited = Fixture.CreateClient();
        limited.DefaultRequestHeaders.Add("X-Api-Key", key);

        (await limited.GetAsync("/api/v1/version")).StatusCode.ShouldBe(HttpStatusCode.OK);
        await (await limited.GetAsync("/api/v1/users")).ShouldBeErrorAsync(HttpStatusCode.Forbidden);
    }

    [Fact]
    public async Task A_key_cannot_carry_a_role_above_its_owner()
    {
        var (owner, _) = await Fixture.ClientAsAsync(BaseRole.Developer);

        var response = await owner.PostAsJsonAsync("/api/v1/api-keys", new { name = "escalate", role = "admin" });

        (await response.ShouldBeErrorAsync(HttpStatusCode.BadRequest)).GetProperty("details").GetProperty("role")[0].GetString()
            .ShouldBe("A key cannot carry a role above your own");
    }

    [Theory]
    [InlineData("{}", "name")]
    [InlineData("{\"name\":\"x\",\"expiresInDays\":0}", "expiresInDays")]
    [InlineData("{\"name\":\"x\",\"expiresAt\":\"2001-01-01T00:00:00Z\"}", "expiresAt")]
    [InlineData("{\"name\":\"x\",\"role\":\"root\"}", "role")]
    public async Task Invalid_requests_are_400(string json, string field)
    {
        var (owner, _) = await Fixture.ClientAsAsync(BaseRole.Viewer);

        var response = await owner.PostAsync("/api/v1/api-keys", new StringContent(json, System.Text.Encoding.UTF8, "application/json"));

        (await response.ShouldBeErrorAsync(HttpStatusCode.BadRequest)).GetProperty("details").TryGetProperty(field, out _).ShouldBeTrue();
    }

    [Fact]
    public async Task Expired_revoked_and_unknown_keys_are_401_with_a_reason()
    {
        var user = await Fixture.CreateUserAsync();
        var expired = await Fixture.CreateApiKeyAsync(user, expiresAt: DateTime.UtcNow.AddMinutes(-1));
        var expiredClient = Fixture.CreateClient();
        expiredClient.DefaultRequestHeaders.Add("X-Api-Key", expired);
        var unknownClient = Fixture.CreateClient();
        unknownClient.DefaultRequestHeaders.Add("X-Api-Key", "cap_unknown");

        (await (await expiredClient.GetAsync("/api/v1/version")).ShouldBeErrorAsync(HttpStatusCode.Unauthorized)).GetProperty("message").GetString().ShouldBe("API key has expired");
        (await (await unknownClient.GetAsync("/api/v1/version")).ShouldBeErrorAsync(HttpStatusCode.Unauthorized)).GetProperty("message").GetString().ShouldBe("Invalid API key");
    }

    [Fact]
    public async Task Revoking_a_key_refuses_it_at_once_and_only_the_owner_can()
    {
        var (owner, _) = await Fixture.ClientAsAsync(BaseRole.Viewer);
        var (stranger, _) = await Fixture.ClientAsAsync(BaseRole.Admin);
        var created = await (await owner.PostAsJsonAsync("/api/v1/api-keys", new { name = "temp" })).ShouldBeJsonAsync(HttpStatusCode.Created);
        var id = created.GetProperty("id").GetGuid();
        var keyClient = Fixture.CreateClient();
        keyClient.DefaultRequestHeaders.Add("X-Api-Key", created.GetProperty("key").GetString());

        await (await stranger.DeleteAsync($"/api/v1/api-keys/{id}")).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        (await owner.DeleteAsync($"/api/v1/api-keys/{id}")).StatusCode.ShouldBe(HttpStatusCode.NoContent);
        (await owner.DeleteAsync($"/api/v1/api-keys/{id}")).StatusCode.ShouldBe(HttpStatusCode.NoContent);

        await (await keyClient.GetAsync("/api/v1/version")).ShouldBeErrorAsync(HttpStatusCode.Unauthorized);
        (await (await owner.GetAsync("/api/v1/api-keys")).ShouldBeJsonAsync()).GetProperty("apiKeys").EnumerateArray().ShouldNotContain(item => item.GetProperty("id").GetGuid() == id);
        await (await owner.DeleteAsync("/api/v1/api-keys/nope")).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
        await (await Client.DeleteAsync($"/api/v1/api-keys/{id}")).ShouldBeErrorAsync(HttpStatusCode.Unauthorized);
        await (await Client.GetAsync("/api/v1/api-keys")).ShouldBeErrorAsync(HttpStatusCode.Unauthorized);
        await (await Client.PostAsJsonAsync("/api/v1/api-keys", new { name = "x" })).ShouldBeErrorAsync(HttpStatusCode.Unauthorized);
    }
}

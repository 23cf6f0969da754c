using System.Net;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;

namespace Capstan.Api.Tests.Identity.AuthProviders;

public sealed class GetAuthProviderTests(IdentitySsoFixture fixture) : SsoTest(fixture)
{
    [Fact]
    public async Task Shows_one_provider_with_the_secret_redacted()
    {
        var id = await CreateProviderAsync(new() { ["clientSecret"] = "get-secret-value" });
        var (admin, _) = await Fixture.ClientAsAsync(BaseRole.Admin);

        var response = await admin.GetAsync($"/api/v1/admin/auth-providers/{id}");

        (await response.Content.ReadAsStringAsync()).ShouldNotContain("get-secret-value");
        var body = await response.ShouldBeJsonAsync();
        body.PropertyNames().ShouldBe(["provider"]);
        body.GetProperty("provider").PropertyNames().ShouldBe(CreateAuthProviderTests.ProviderFields);
        body.GetProperty("provider").GetProperty("id").GetGuid().ShouldBe(id);
        body.GetProperty("provider").GetProperty("clientSecretEncrypted").GetString().ShouldBe("***");
        body.GetProperty("provider").GetProperty("roleMapping").GetProperty("admin")[0].GetString().ShouldBe("platform-admins");
    }

    [Fact]
    public async Task Unknown_is_404_and_a_malformed_id_400()
    {
        var (admin, _) = await Fixture.ClientAsAsync(BaseRole.Admin);

        (await (await admin.GetAsync($"/api/v1/admin/auth-providers/{Guid.NewGuid()}")).ShouldBeErrorAsync(HttpStatusCode.NotFound))
            .GetProperty("message").GetString().ShouldBe("Provider not found");
        await (await admin.GetAsync("/api/v1/admin/auth-providers/not-a-guid")).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Anonymous_is_401_and_an_operator_403()
    {
        var id = await CreateProviderAsync();
        await (await Client.GetAsync($"/api/v1/admin/auth-providers/{id}")).ShouldBeErrorAsync(HttpStatusCode.Unauthorized);
        var (operatorClient, _) = await Fixture.ClientAsAsync(BaseRole.Operator);
        await (await operatorClient.GetAsync($"/api/v1/admin/auth-providers/{id}")).ShouldBeErrorAsync(HttpStatusCode.Forbidden);
    }
}

using System.Net;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;

namespace Capstan.Api.Tests.Identity.AuthProviders;

public sealed class ListAuthProvidersTests(IdentitySsoFixture fixture) : SsoTest(fixture)
{
    [Fact]
    public async Task Lists_by_name_with_every_secret_redacted()
    {
        await CreateProviderAsync(new() { ["name"] = "Zitadel", ["clientSecret"] = "zitadel-secret" });
        await CreateProviderAsync(new() { ["name"] = "Authentik", ["clientSecret"] = "authentik-secret" });
        var (admin, _) = await Fixture.ClientAsAsync(BaseRole.Admin);

        var response = await admin.GetAsync("/api/v1/admin/auth-providers");

        var text = await response.Content.ReadAsStringAsync();
        text.ShouldNotContain("zitadel-secret");
        text.ShouldNotContain("authentik-secret");
        var body = await response.ShouldBeJsonAsync();
        body.PropertyNames().ShouldBe(["providers", "total"]);
        body.GetProperty("total").GetInt32().ShouldBe(2);
        var providers = body.GetProperty("providers").EnumerateArray().ToList();
        providers.Select(provider => provider.GetProperty("name").GetString()).ShouldBe(["Authentik", "Zitadel"]);
        providers.ShouldAllBe(provider => provider.GetProperty("clientSecretEncrypted").GetString() == "***");
        providers[0].PropertyNames().ShouldBe(CreateAuthProviderTests.ProviderFields);
    }

    [Fact]
    public async Task Anonymous_is_401_and_an_operator_403()
    {
        await (await Client.GetAsync("/api/v1/admin/auth-providers")).ShouldBeErrorAsync(HttpStatusCode.Unauthorized);
        var (operatorClient, _) = await Fixture.ClientAsAsync(BaseRole.Operator);
        await (await operatorClient.GetAsync("/api/v1/admin/auth-providers")).ShouldBeErrorAsync(HttpStatusCode.Forbidden);
    }
}

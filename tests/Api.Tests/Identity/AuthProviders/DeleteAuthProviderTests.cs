using System.Net;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;

namespace Capstan.Api.Tests.Identity.AuthProviders;

public sealed class DeleteAuthProviderTests(IdentitySsoFixture fixture) : SsoTest(fixture)
{
    [Fact]
    public async Task Deletes_the_provider_and_its_linked_accounts_but_keeps_the_users()
    {
        await AllowSignupAsync();
        var id = await CreateProviderAsync();
        (await SignInAsync(id)).Callback.Headers.Location!.ToString().ShouldBe("/");
        var (admin, _) = await Fixture.ClientAsAsync(BaseRole.Admin);

        var response = await admin.DeleteAsync($"/api/v1/admin/auth-providers/{id}");

        var body = await response.ShouldBeJsonAsync();
        body.PropertyNames().ShouldBe(["success", "linkedAccountsRemoved"]);
        body.GetProperty("linkedAccountsRemoved").GetInt32().ShouldBe(1);
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM identity.auth_providers")).ShouldBe(0);
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM identity.external_accounts")).ShouldBe(0);
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM identity.users WHERE username = 'alice'")).ShouldBe(1);
        (await Fixture.ScalarAsync<string>("SELECT metadata->>'linked_accounts_removed' FROM identity.audit_log WHERE action = 'auth_provider.delete'")).ShouldBe("1");
    }

    [Fact]
    public async Task Unknown_is_404()
    {
        var (admin, _) = await Fixture.ClientAsAsync(BaseRole.Admin);
        (await (await admin.DeleteAsync($"/api/v1/admin/auth-providers/{Guid.NewGuid()}")).ShouldBeErrorAsync(HttpStatusCode.NotFound))
            .GetProperty("message").GetString().ShouldBe("Provider not found");
    }

    [Fact]
    public async Task Anonymous_is_401_and_an_operator_403()
    {
        var id = await CreateProviderAsync();
        await (await Client.DeleteAsync($"/api/v1/admin/auth-providers/{id}")).ShouldBeErrorAsync(HttpStatusCode.Unauthorized);
        var (operatorClient, _) = await Fixture.ClientAsAsync(BaseRole.Operator);
        await (await operatorClient.DeleteAsync($"/api/v1/admin/auth-providers/{id}")).ShouldBeErrorAsync(HttpStatusCode.Forbidden);
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM identity.auth_providers")).ShouldBe(1);
    }
}

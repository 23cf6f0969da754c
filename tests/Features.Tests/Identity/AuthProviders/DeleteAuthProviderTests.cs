using Capstan.Features.Identity.AuthProviders;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;

namespace Capstan.Features.Tests.Identity.AuthProviders;

public sealed class DeleteAuthProviderTests(IdentitySsoFixture fixture) : SsoHandlerTest(fixture)
{
    [Fact]
    public async Task Removes_the_provider_its_accounts_and_its_flows_in_flight()
    {
        var created = await CreateProviderAsync();
        var user = await Fixture.CreateUserAsync();
        await Fixture.ExecuteAsync(
            """
            INSERT INTO identity.external_accounts (id, provider_id, subject, user_id) VALUES (gen_random_uuid(), @Provider, 'sub', @User);
            INSERT INTO identity.oauth_states (state_hash, provider_id, code_verifier, nonce, flow, expires_at) VALUES ('\x01', @Provider, 'v', 'n', 'session', now() + interval '1 minute');
            """,
            new { Provider = created.Provider.Id, User = user.Id });
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);

        (await Fixture.SendAsAsync(admin, new DeleteAuthProvider.Command(created.Provider.Id))).LinkedAccountsRemoved.ShouldBe(1);

        (await Fixture.ScalarAsync<long>("SELECT (SELECT count(*) FROM identity.external_accounts) + (SELECT count(*) FROM identity.oauth_states)")).ShouldBe(0);
        (await Fixture.ScalarAsync<bool>("SELECT EXISTS (SELECT 1 FROM identity.users WHERE id = @Id)", new { user.Id })).ShouldBeTrue();
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(admin, new DeleteAuthProvider.Command(created.Provider.Id)));
    }
}

using Capstan.Features.Identity.Sso;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;

namespace Capstan.Features.Tests.Identity.Sso;

public sealed class ExchangeOAuthCodeTests(IdentitySsoFixture fixture) : SsoHandlerTest(fixture)
{
    [Fact]
    public async Task A_code_is_traded_once_for_a_session()
    {
        var user = await Fixture.CreateUserAsync(BaseRole.Developer);
        var code = "one-time-code-for-handler-test";
        await Fixture.ExecuteAsync(
            "INSERT INTO identity.oauth_exchange_codes (code_hash, user_id, expires_at) VALUES (@Hash, @UserId, now() + interval '30 seconds')",
            new { Hash = SecretTokens.Hash(code), UserId = user.Id });

        var response = await Fixture.SendAsync(new ExchangeOAuthCode.Command(code));

        response.User.Id.ShouldBe(user.Id);
        response.User.Role.ShouldBe("developer");
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM identity.sessions WHERE user_id = @Id", new { user.Id })).ShouldBe(1);
        await Should.ThrowAsync<UnauthorizedException>(() => Fixture.SendAsync(new ExchangeOAuthCode.Command(code)));
    }
}

using Capstan.Features.Identity.Accounts;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Capstan.Features.Tests.Identity.Accounts;

public sealed class RefreshTokenTests(IdentitySsoFixture fixture) : SsoHandlerTest(fixture)
{
    [Fact]
    public async Task Reissues_for_a_live_session_and_refuses_an_ended_one()
    {
        var user = await Fixture.CreateUserAsync(BaseRole.Developer);
        var signIn = await Fixture.SendAsync(new SignInWithPassword.Command { Email = user.Email, Password = user.Password });
        var expired = Fixture.Services.GetRequiredService<SessionTokens>()
            .Issue(user.Id, user.Username, "developer", signIn.Session!.SessionId, DateTimeOffset.UtcNow.AddHours(-1));

        var refreshed = await Fixture.SendAsync(new RefreshToken.Command(expired));

        refreshed.ExpiresAt.ShouldBeGreaterThan(DateTimeOffset.UtcNow.AddHours(23));
        refreshed.User.Role.ShouldBe("developer");
        await Fixture.ExecuteAsync("UPDATE identity.sessions SET revoked_at = now()");
        await Should.ThrowAsync<UnauthorizedException>(() => Fixture.SendAsync(new RefreshToken.Command(expired)));
        await Should.ThrowAsync<UnauthorizedException>(() => Fixture.SendAsync(new RefreshToken.Command(string.Empty)));
    }

    [Fact]
    public async Task A_new_token_never_outlives_its_session()
    {
        var user = await Fixture.CreateUserAsync();
        var signIn = await Fixture.SendAsync(new SignInWithPassword.Command { Email = user.Email, Password = user.Password });
        await Fixture.ExecuteAsync("UPDATE identity.sessions SET expires_at = now() + interval '1 hour', refreshed_at = now()");

        var refreshed = await Fixture.SendAsync(new RefreshToken.Command(signIn.Session!.Jwt));

        refreshed.ExpiresAt.ShouldBeLessThanOrEqualTo(DateTimeOffset.UtcNow.AddHours(1).AddSeconds(5));
    }
}

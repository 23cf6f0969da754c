using Capstan.Features.Identity.Accounts;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;

namespace Capstan.Features.Tests.Identity.Accounts;

public sealed class SignInWithPasswordTests(IdentitySsoFixture fixture) : SsoHandlerTest(fixture)
{
    [Fact]
    public async Task Signs_in_by_email_through_the_shared_password_sign_in()
    {
        var user = await Fixture.CreateUserAsync(BaseRole.Operator);

        var outcome = await Fixture.SendAsync(new SignInWithPassword.Command { Email = user.Email, Password = user.Password });
        var wrong = await Fixture.SendAsync(new SignInWithPassword.Command { Email = user.Email, Password = "nope" });

        outcome.Status.ShouldBe(SignInStatus.SignedIn);
        outcome.User!.Id.ShouldBe(user.Id);
        wrong.Status.ShouldBe(SignInStatus.InvalidCredentials);
        (await Fixture.ScalarAsync<long>("SELECT failed_attempts FROM identity.login_failures")).ShouldBe(1);
    }
}

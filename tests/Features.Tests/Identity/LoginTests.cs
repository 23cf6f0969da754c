using Capstan.Features.Identity;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using FluentValidation;

namespace Capstan.Features.Tests.Identity;

public sealed class LoginTests(FeaturesFixture fixture) : HandlerTest(fixture)
{
    [Fact]
    public async Task Signs_in_by_username_or_email_and_starts_a_session()
    {
        var user = await Fixture.CreateUserAsync(BaseRole.Developer);

        var byName = await Fixture.SendAsync(new Login.Command { Username = user.Username.ToUpperInvariant(), Password = user.Password });
        var byEmail = await Fixture.SendAsync(new Login.Command { Email = user.Email, Password = user.Password });

        byName.Status.ShouldBe(SignInStatus.SignedIn);
        byName.User!.Role.ShouldBe("developer");
        byEmail.User!.Id.ShouldBe(user.Id);
        byName.Session!.SessionToken.ShouldNotBe(byEmail.Session!.SessionToken);
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM identity.sessions WHERE user_id = @Id AND revoked_at IS NULL", new { user.Id })).ShouldBe(2);
        (await Fixture.ScalarAsync<DateTime?>("SELECT last_login_at FROM identity.users WHERE id = @Id", new { user.Id })).ShouldNotBeNull();
    }

    [Fact]
    public async Task Failures_are_committed_even_though_the_caller_is_refused()
    {
        var user = await Fixture.CreateUserAsync();

        var outcome = await Fixture.SendAsync(new Login.Command { Username = user.Username, Password = "Wrong-Password-1" });

        outcome.Status.ShouldBe(SignInStatus.InvalidCredentials);
        (await Fixture.ScalarAsync<long>("SELECT failed_attempts FROM identity.login_failures WHERE login = @Login", new { Login = user.Username })).ShouldBe(1);
        (await Fixture.ScalarAsync<string>("SELECT result FROM identity.audit_log WHERE action = 'auth.login'")).ShouldBe("denied");
    }

    [Fact]
    public async Task Unknown_names_are_counted_too_so_lockout_reveals_nothing()
    {
        for (var i = 0; i < 5; i++)
        {
            await Fixture.SendAsync(new Login.Command { Username = "ghost", Password = "Wrong-Password-1" });
        }

        (await Fixture.SendAsync(new Login.Command { Username = "ghost", Password = "Wrong-Password-1" })).Status.ShouldBe(SignInStatus.Locked);
    }

    [Fact]
    public async Task The_validator_needs_a_name_and_a_password()
    {
        var error = await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsync(new Login.Command { Password = "x" }));

        error.Errors.Single().PropertyName.ShouldBe("username");
    }
}

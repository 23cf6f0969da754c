using Capstan.Features.Identity.Accounts;
using Capstan.Infrastructure.Errors;

namespace Capstan.Features.Tests.Identity.Accounts;

public sealed class RegisterTests(IdentitySsoFixture fixture) : SsoHandlerTest(fixture)
{
    private const string Password = "Str0ng-Passw0rd!";

    [Fact]
    public async Task Simultaneous_first_registrations_make_exactly_one_admin()
    {
        await SetSettingAsync("auth.allowSignup", "true");

        var results = await Task.WhenAll(Enumerable.Range(0, 4).Select(async n =>
        {
            try
            {
                return (await Fixture.SendAsync(new Register.Command { Email = $"racer{n}@example.test", Password = Password, Name = $"Racer {n}" })).User.Role;
            }
            catch (ApiException failure)
            {
                return $"refused {failure.StatusCode}";
            }
        }));

        results.Count(role => role == "admin").ShouldBe(1);
        results.Count(role => role == "developer").ShouldBe(3);
    }

    [Fact]
    public async Task Invite_only_sign_up_checks_the_code_and_regenerates_it_when_asked()
    {
        await Fixture.SendAsync(new Register.Command { Email = "first@example.test", Password = Password, Name = "First" });
        await SetSettingAsync(Register.RegenerateKey, "true");
        var code = await Fixture.ScalarAsync<string>("SELECT value #>> '{}' FROM identity.settings WHERE key = @Key", new { Key = Register.InviteCodeKey });

        var refused = await Should.ThrowAsync<ForbiddenException>(() => Fixture.SendAsync(new Register.Command { Email = "b@example.test", Password = Password, Name = "B", InviteCode = "123" }));
        var second = await Fixture.SendAsync(new Register.Command { Email = "b@example.test", Password = Password, Name = "B", InviteCode = $" {code} " });

        refused.Message.ShouldBe("Valid invite code required");
        second.User.Role.ShouldBe("developer");
        (await Fixture.ScalarAsync<string>("SELECT value #>> '{}' FROM identity.settings WHERE key = @Key", new { Key = Register.InviteCodeKey })).ShouldNotBe(code);
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM identity.flux_bindings WHERE user_id = @Id", new { second.User.Id })).ShouldBe(1);
    }

    [Fact]
    public async Task The_username_comes_from_the_local_part_and_stays_unique()
    {
        await SetSettingAsync("auth.allowSignup", "true");

        var first = await Fixture.SendAsync(new Register.Command { Email = "J.Doe+tag@one.example", Password = Password, Name = "J" });
        var second = await Fixture.SendAsync(new Register.Command { Email = "j.doe+tag@two.example", Password = Password, Name = "J" });

        first.User.Username.ShouldBe("j.doe_tag");
        second.User.Username.ShouldBe("j.doe_tag-2");
    }
}

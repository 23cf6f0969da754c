using Capstan.Features.Identity.Accounts;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using FluentValidation;

namespace Capstan.Features.Tests.Identity.Accounts;

public sealed class UpdateProfileTests(IdentitySsoFixture fixture) : SsoHandlerTest(fixture)
{
    [Fact]
    public async Task Changes_only_the_callers_name()
    {
        var other = await Fixture.CreateUserAsync();
        var user = await Fixture.CreateUserAsync(BaseRole.Developer);

        var updated = await Fixture.SendAsAsync(user, new UpdateProfile.Command(" Dev Eloper "));

        updated.User.Name.ShouldBe("Dev Eloper");
        (await Fixture.ScalarAsync<string>("SELECT name FROM identity.users WHERE id = @Id", new { other.Id })).ShouldBe(other.Username);
        (await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(user, new UpdateProfile.Command(""))))
            .Errors.ShouldContain(error => error.ErrorMessage == "Name is required");
    }
}

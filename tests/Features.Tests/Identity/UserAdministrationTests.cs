using Capstan.Features.Identity;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using FluentValidation;

namespace Capstan.Features.Tests.Identity;

/// <summary>CreateUser, ListUsers, UpdateUser and DeleteUser handlers on the real database.</summary>
public sealed class UserAdministrationTests(FeaturesFixture fixture) : HandlerTest(fixture)
{
    [Fact]
    public async Task Create_normalises_and_binds_the_role_defaults()
    {
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);

        var user = await Fixture.SendAsAsync(admin, new CreateUser.Command("Mixed.Case", "Str0ng-Passw0rd!", "USER", "Mixed@Example.Test", " Mixed "));

        user.Username.ShouldBe("mixed.case");
        user.Email.ShouldBe("mixed@example.test");
        user.Role.ShouldBe("developer");
        user.Name.ShouldBe("Mixed");
        (await Fixture.QueryAsync<Guid>("SELECT policy_id FROM identity.flux_bindings WHERE user_id = @Id", new { user.Id }))
            .ShouldBe([Guid.Parse("00000000-0000-0000-0000-000000000001")]);
        var hash = await Fixture.ScalarAsync<string>("SELECT password_hash FROM identity.users WHERE id = @Id", new { user.Id });
        Passwords.Verify(hash, "Str0ng-Passw0rd!").ShouldBeTrue();
    }

    [Fact]
    public async Task Create_refuses_duplicates_and_weak_passwords()
    {
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);

        await Should.ThrowAsync<ConflictException>(() => Fixture.SendAsAsync(admin, new CreateUser.Command(admin.Username, "Str0ng-Passw0rd!", "viewer", null, null)));
        var weak = await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(admin, new CreateUser.Command("new-one", "password", "viewer", null, null)));
        weak.Errors.Single().ErrorMessage.ShouldBe("Password must contain at least one uppercase letter.");
    }

    [Fact]
    public async Task List_filters_by_active_and_escapes_like_wildcards()
    {
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);
        await Fixture.CreateUserAsync(BaseRole.Viewer, "percent_user");
        await Fixture.CreateUserAsync(BaseRole.Viewer, "other", active: false);

        var inactive = await Fixture.SendAsAsync(admin, Query(active: false));
        var wildcard = await Fixture.SendAsAsync(admin, Query(search: "%"));
        var underscore = await Fixture.SendAsAsync(admin, Query(search: "t_u"));

        inactive.Users.Select(user => user.Username).ShouldBe(["other"]);
        wildcard.Total.ShouldBe(0);
        underscore.Users.Select(user => user.Username).ShouldBe(["percent_user"]);
    }

    [Fact]
    public async Task Update_resets_the_password_into_history()
    {
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);
        var user = await Fixture.CreateUserAsync();

        var updated = await Fixture.SendAsAsync(admin, new UpdateUser.Command { UserId = user.Id, Password = "Reset-Passw0rd!" });

        updated.RequiresPasswordChange.ShouldBeTrue();
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM identity.password_history WHERE user_id = @Id", new { user.Id })).ShouldBe(1);
    }

    [Fact]
    public async Task Update_refuses_an_email_taken_by_someone_else()
    {
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);
        var user = await Fixture.CreateUserAsync();

        await Should.ThrowAsync<ConflictException>(() => Fixture.SendAsAsync(admin, new UpdateUser.Command { UserId = user.Id, Email = admin.Email }));
    }

    [Fact]
    public async Task Delete_cascades_and_refuses_unknown_users()
    {
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);
        var user = await Fixture.CreateUserAsync();
        await Fixture.CreateApiKeyAsync(user);

        await Fixture.SendAsAsync(admin, new DeleteUser.Command(user.Id));

        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM identity.api_keys WHERE user_id = @Id", new { user.Id })).ShouldBe(0);
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(admin, new DeleteUser.Command(user.Id)));
    }

    private static ListUsers.Query Query(bool? active = null, string? search = null) =>
        new(search, null, active, new Capstan.Infrastructure.Paging.PageRequest(0, 50),
            new Capstan.Infrastructure.Paging.SortClause("username", "username", Capstan.Infrastructure.Paging.OrderDirection.Ascending, "id"));
}

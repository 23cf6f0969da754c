using Capstan.Features.Identity;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using FluentValidation;

namespace Capstan.Features.Tests.Identity;

public sealed class CreateRoleTests(IdentityAdminHandlerFixture fixture) : IdentityAdminHandlerTest(fixture)
{
    [Fact]
    public async Task The_role_is_stored_trimmed_with_unique_permissions_in_order_and_audited_as_the_caller()
    {
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);

        var role = await Fixture.SendAsAsync(admin, new CreateRole.Command(" deployers ", " Ship things ", ["secret.request", "secret.list", "secret.request"]));

        role.Name.ShouldBe("deployers");
        role.Description.ShouldBe("Ship things");
        role.Permissions.ShouldBe(["secret.request", "secret.list"]);
        role.IsSystem.ShouldBeFalse();
        role.Id.Version.ShouldBe(7);
        var stored = await Fixture.QueryAsync<(string Name, string[] Permissions)>("SELECT name, permissions FROM identity.roles WHERE id = @Id", new { role.Id });
        stored.ShouldHaveSingleItem().Permissions.ShouldBe(["secret.request", "secret.list"]);
        var audit = await Fixture.QueryAsync<(string Action, Guid ActorId, string ResourceName)>(
            "SELECT action, actor_id, resource_name FROM identity.audit_log WHERE resource_id = @Id", new { Id = role.Id.ToString() });
        audit.ShouldBe([("role.create", admin.Id, "deployers")]);
    }

    [Fact]
    public async Task A_name_taken_in_another_case_is_a_conflict_and_nothing_is_written()
    {
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);

        await Should.ThrowAsync<ConflictException>(() => Fixture.SendAsAsync(admin, new CreateRole.Command("Developer", null, ["secret.list"])));

        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM identity.roles WHERE name = 'Developer'")).ShouldBe(0);
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM identity.audit_log")).ShouldBe(0);
    }

    [Fact]
    public async Task The_validator_names_every_unknown_permission_once()
    {
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);

        var failure = await Should.ThrowAsync<ValidationException>(() =>
            Fixture.SendAsAsync(admin, new CreateRole.Command("x", null, ["audit.read", "nope", "also.nope", "nope"])));

        failure.Errors.ShouldHaveSingleItem().ErrorMessage.ShouldBe("unknown permissions: \"nope\", \"also.nope\"");
        failure.Errors.Single().PropertyName.ShouldBe("permissions");
    }

    [Fact]
    public async Task The_validator_wants_a_name_and_a_list_of_at_most_200()
    {
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);

        var missing = await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(admin, new CreateRole.Command(null, null, null)));
        var tooMany = await Should.ThrowAsync<ValidationException>(() =>
            Fixture.SendAsAsync(admin, new CreateRole.Command("big", null, [.. Enumerable.Repeat("audit.read", 201)])));

        missing.Errors.Select(error => error.PropertyName).ShouldBe(["name", "permissions"], ignoreOrder: true);
        tooMany.Errors.ShouldHaveSingleItem().ErrorMessage.ShouldBe("permissions may list at most 200 keys");
    }
}

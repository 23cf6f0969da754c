using System.Text.Json;
using Capstan.Features.Identity;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using FluentValidation;

namespace Capstan.Features.Tests.Identity;

public sealed class ReplaceRolePermissionsTests(IdentityAdminHandlerFixture fixture) : IdentityAdminHandlerTest(fixture)
{
    [Fact]
    public async Task The_list_is_replaced_deduplicated_and_the_audit_row_says_what_was_added_and_removed()
    {
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);
        var id = await CreateRoleAsync("ops", "audit.read", "agent.list");
        await Fixture.ExecuteAsync("UPDATE identity.roles SET updated_at = now() - interval '1 day' WHERE id = @Id", new { Id = id });

        await Fixture.SendAsAsync(admin, new ReplaceRolePermissions.Command { Id = id, Permissions = ["agent.list", "agent.revoke", "agent.revoke"] });

        var (permissions, fresh) = (await Fixture.QueryAsync<(string[] Permissions, bool Fresh)>(
            "SELECT permissions, updated_at > now() - interval '1 minute' FROM identity.roles WHERE id = @Id", new { Id = id })).Single();
        permissions.ShouldBe(["agent.list", "agent.revoke"]);
        fresh.ShouldBeTrue();
        var metadata = JsonDocument.Parse((await Fixture.ScalarAsync<string>("SELECT metadata::text FROM identity.audit_log WHERE action = 'role.permissions.update'"))!).RootElement;
        metadata.GetProperty("added").EnumerateArray().Select(item => item.GetString()).ShouldBe(["agent.revoke"]);
        metadata.GetProperty("removed").EnumerateArray().Select(item => item.GetString()).ShouldBe(["audit.read"]);
        metadata.GetProperty("is_system").GetBoolean().ShouldBeFalse();
    }

    [Fact]
    public async Task An_unknown_role_is_not_found_and_a_null_list_never_reaches_the_handler()
    {
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);

        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(admin, new ReplaceRolePermissions.Command { Id = Guid.CreateVersion7(), Permissions = [] }));
        (await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(admin, new ReplaceRolePermissions.Command { Id = ApproverRoleId })))
            .Errors.ShouldHaveSingleItem().PropertyName.ShouldBe("permissions");
    }
}

using Capstan.Features.Identity;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using FluentValidation;

namespace Capstan.Features.Tests.Identity;

public sealed class CreateUserRoleTests(IdentityAdminHandlerFixture fixture) : IdentityAdminHandlerTest(fixture)
{
    [Fact]
    public async Task The_scope_is_stored_with_trimmed_values_and_the_caller_is_the_granter()
    {
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);
        var user = await Fixture.CreateUserAsync();

        var assignment = await Fixture.SendAsAsync(admin, new CreateUserRole.Command
        {
            UserId = user.Id.ToString(),
            RoleId = ApproverRoleId.ToString("N"),
            Scope = Json("""{"team_id": " t-1 ", "project_id": "p-1"}"""),
        });

        assignment.GrantedBy.ShouldBe(admin.Id);
        assignment.Scope.EnumerateObject().Select(entry => (entry.Name, entry.Value.GetString())).ShouldBe([("team_id", "t-1"), ("project_id", "p-1")], ignoreOrder: true);
        (await Fixture.ScalarAsync<bool>(
            """SELECT scope = '{"project_id": "p-1", "team_id": "t-1"}'::jsonb FROM identity.user_roles WHERE id = @Id""", new { assignment.Id })).ShouldBeTrue();
        var audit = await Fixture.QueryAsync<(string Action, string Name, string Role)>(
            "SELECT action, resource_name, metadata->>'role' FROM identity.audit_log WHERE resource_id = @Id", new { Id = assignment.Id.ToString() });
        audit.ShouldBe([("user_role.grant", $"approver → {user.Username}", "approver")]);
    }

    [Fact]
    public async Task The_granted_grants_reach_the_users_credentials()
    {
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);
        var user = await Fixture.CreateUserAsync();
        var auditors = await CreateRoleAsync("auditors", "audit.read");

        await Fixture.SendAsAsync(admin, new CreateUserRole.Command { UserId = user.Id.ToString(), RoleId = auditors.ToString() });
        await Fixture.SendAsAsync(admin, new CreateUserRole.Command { UserId = user.Id.ToString(), RoleId = ApproverRoleId.ToString(), Scope = Json("""{"project_id":"p"}""") });

        var key = await Fixture.CreateApiKeyAsync(user);
        var caller = (await Fixture.WithScopeAsync(scope => ((CredentialStore)scope.GetService(typeof(CredentialStore))!).FromApiKeyAsync(key, default))).Caller!;
        caller.Has(Permissions.AuditRead).ShouldBeTrue();
        caller.Has(Permissions.SecretApprove).ShouldBeFalse();
        caller.Has(Permissions.SecretApprove, new Dictionary<string, string> { ["project_id"] = "p" }).ShouldBeTrue();
        caller.Has(Permissions.SecretApprove, new Dictionary<string, string> { ["project_id"] = "q" }).ShouldBeFalse();
    }

    [Fact]
    public async Task Granted_by_must_be_the_caller()
    {
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);
        var user = await Fixture.CreateUserAsync();

        var refused = await Should.ThrowAsync<BadRequestException>(() =>
            Fixture.SendAsAsync(admin, new CreateUserRole.Command { UserId = user.Id.ToString(), RoleId = ApproverRoleId.ToString(), GrantedBy = user.Id.ToString() }));

        refused.Details!.Keys.ShouldBe(["granted_by"]);
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM identity.user_roles")).ShouldBe(0);
    }

    [Fact]
    public async Task Unknown_user_or_role_is_not_found_and_a_repeat_is_a_conflict()
    {
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);
        var user = await Fixture.CreateUserAsync();
        var command = new CreateUserRole.Command { UserId = user.Id.ToString(), RoleId = ApproverRoleId.ToString() };
        await Fixture.SendAsAsync(admin, command);

        await Should.ThrowAsync<ConflictException>(() => Fixture.SendAsAsync(admin, command with { Scope = Json("{}") }));
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(admin, command with { UserId = Guid.CreateVersion7().ToString() }));
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(admin, command with { RoleId = Guid.CreateVersion7().ToString() }));
    }

    [Theory]
    [InlineData("""{"project_id": 1}""", "scope.project_id must be a non-empty string")]
    [InlineData("""{"project_id": "  "}""", "scope.project_id must be a non-empty string")]
    [InlineData("""{"project_id": {"id": "x"}}""", "scope.project_id must be a non-empty string")]
    [InlineData("""{"9lives": "x"}""", "scope key \"9lives\" must be lower-case letters, digits and '_' (at most 64)")]
    [InlineData("""true""", "scope must be an object of string values, e.g. {\"project_id\": \"…\"}")]
    public void The_validator_refuses_scopes_that_would_widen_or_confuse_a_grant(string scope, string message)
    {
        var result = new CreateUserRole.Validator().Validate(new CreateUserRole.Command
        {
            UserId = Guid.CreateVersion7().ToString(),
            RoleId = Guid.CreateVersion7().ToString(),
            Scope = Json(scope),
        });

        result.Errors.ShouldHaveSingleItem().ErrorMessage.ShouldBe(message);
        result.Errors[0].PropertyName.ShouldBe("scope");
    }

    [Fact]
    public void The_validator_wants_both_ids_and_accepts_a_null_scope()
    {
        var validator = new CreateUserRole.Validator();

        validator.Validate(new CreateUserRole.Command()).Errors.Select(error => error.PropertyName).ShouldBe(["user_id", "role_id"]);
        validator.Validate(new CreateUserRole.Command { UserId = Guid.Empty.ToString(), RoleId = Guid.CreateVersion7().ToString() })
            .Errors.ShouldHaveSingleItem().PropertyName.ShouldBe("user_id");
        validator.Validate(new CreateUserRole.Command { UserId = Guid.CreateVersion7().ToString(), RoleId = Guid.CreateVersion7().ToString(), Scope = Json("null") })
            .IsValid.ShouldBeTrue();
    }

    [Fact]
    public async Task Validation_runs_before_the_handler()
    {
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);

        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(admin, new CreateUserRole.Command { UserId = "x", RoleId = "y" }));
    }
}

using System.Text.Json.Nodes;
using Capstan.Features.Delivery.Settings;
using Capstan.Features.Delivery.Versions;
using Capstan.Features.Delivery.Workflows;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using FluentValidation;

namespace Capstan.Features.Tests.Delivery;

public sealed class DeliveryHandlerFixture : ApiFixture
{
    protected override string Purpose => "delivery_handlers";
}

[CollectionDefinition(Name)]
public sealed class DeliveryHandlerCollection : ICollectionFixture<DeliveryHandlerFixture>
{
    public const string Name = "delivery-handlers";
}

/// <summary>Delivery's handlers through the real pipeline (validator, transaction, audit) on the real database:
/// workflow create/save/delete, the version numbering of create and restore, and the invite-code setting.</summary>
[Collection(DeliveryHandlerCollection.Name)]
public sealed class WorkflowHandlerTests(DeliveryHandlerFixture fixture) : HandlerTest<DeliveryHandlerFixture>(fixture)
{
    private static JsonArray Nodes(params string[] names) =>
        [.. names.Select(name => (JsonNode)new JsonObject { ["id"] = name, ["type"] = "configmap", ["data"] = new JsonObject { ["name"] = " " + name + " " } })];

    private async Task<Guid> CreateAsync(TestUser user, JsonArray? nodes = null)
    {
        var created = await Fixture.SendAsAsync(user, new CreateWorkflow.Command { Name = "shop", Nodes = nodes ?? [], Edges = new JsonArray() });
        return created["id"]!.GetValue<Guid>();
    }

    [Fact]
    public async Task Create_stores_the_draft_its_first_version_and_an_audit_row()
    {
        var user = await Fixture.CreateUserAsync(BaseRole.Developer);

        var id = await CreateAsync(user, Nodes("a"));

        (await Fixture.ScalarAsync<string>("SELECT status FROM delivery.workflows WHERE id = @Id AND owner_id = @Owner", new { Id = id, Owner = user.Id })).ShouldBe("draft");
        (await Fixture.ScalarAsync<string>("SELECT nodes->0->'data'->>'name' FROM delivery.workflows WHERE id = @Id", new { Id = id })).ShouldBe("a", "names are trimmed");
        (await Fixture.ScalarAsync<long>("SELECT version FROM delivery.workflow_versions WHERE workflow_id = @Id", new { Id = id })).ShouldBe(1);
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM identity.audit_log WHERE action = 'delivery.workflow.create' AND resource_id = @Id", new { Id = id.ToString() })).ShouldBe(1);
    }

    [Fact]
    public async Task Create_validates_before_touching_the_database()
    {
        var user = await Fixture.CreateUserAsync(BaseRole.Developer);

        var error = await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(user, new CreateWorkflow.Command { Name = "" }));

        error.Errors.Select(failure => failure.PropertyName).ShouldContain("name");
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM delivery.workflows")).ShouldBe(0);
    }

    [Fact]
    public async Task Versions_number_on_from_the_highest_and_restore_makes_a_new_one()
    {
        var user = await Fixture.CreateUserAsync(BaseRole.Developer);
        var id = await CreateAsync(user, Nodes("a"));
        await Fixture.SendAsAsync(user, new SaveWorkflow.Command(id, Nodes("a", "b"), new JsonArray(), null));

        var second = await Fixture.SendAsAsync(user, new CreateVersion.Command(id, "two", null, null));
        var restored = await Fixture.SendAsAsync(user, new RestoreVersion.Command(id, 1));

        second.Version.Version.ShouldBe(2);
        second.Version.Nodes!.AsArray().Count.ShouldBe(2);
        restored.Version.Version.ShouldBe(3);
        restored.Version.RestoredFrom.ShouldBe(1);
        restored.Version.Description.ShouldBe("Restored from version 1");
        restored.Workflow.Nodes!.AsArray().Count.ShouldBe(1);
        restored.Workflow.CurrentVersion.ShouldBe(3);
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(user, new RestoreVersion.Command(id, 9)));
    }

    [Fact]
    public async Task Another_users_workflow_is_not_found_by_any_handler()
    {
        var owner = await Fixture.CreateUserAsync(BaseRole.Developer);
        var other = await Fixture.CreateUserAsync(BaseRole.Developer);
        var id = await CreateAsync(owner, Nodes("a"));

        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(other, new SaveWorkflow.Command(id, new JsonArray(), new JsonArray(), null)));
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(other, new DeleteWorkflow.Command(id)));
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(other, new CreateVersion.Command(id, null, null, null)));
        (await Fixture.ScalarAsync<string>("SELECT nodes::text FROM delivery.workflows WHERE id = @Id", new { Id = id }))!.ShouldContain("\"a\"");
    }

    [Fact]
    public async Task Delete_is_soft_and_hides_the_workflow_from_every_handler()
    {
        var user = await Fixture.CreateUserAsync(BaseRole.Developer);
        var id = await CreateAsync(user);

        await Fixture.SendAsAsync(user, new DeleteWorkflow.Command(id));

        (await Fixture.ScalarAsync<bool>("SELECT deleted_at IS NOT NULL FROM delivery.workflows WHERE id = @Id", new { Id = id })).ShouldBeTrue();
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(user, new GetWorkflow.Query(id)));
    }

    [Fact]
    public async Task The_regenerate_setting_is_stored_and_needs_a_value()
    {
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);

        var changed = await Fixture.SendAsAsync(admin, new UpdateRegenerateSetting.Command(true));
        var read = await Fixture.SendAsAsync(admin, new GetRegenerateSetting.Command());

        changed.RegenerateAfterSignup.ShouldBeTrue();
        read.RegenerateAfterSignup.ShouldBeTrue();
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(admin, new UpdateRegenerateSetting.Command(null)));
    }
}

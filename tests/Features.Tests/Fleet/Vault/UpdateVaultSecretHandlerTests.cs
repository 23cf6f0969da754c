using Capstan.Features.Fleet.Vault;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using FluentValidation;

namespace Capstan.Features.Tests.Fleet.Vault;

/// <summary>Updating a vault secret through the pipeline: metadata changes keep the version, a new value is a rotation,
/// other teams' and discovered secrets cannot be changed.</summary>
public sealed class UpdateVaultSecretHandlerTests(FleetHandlerFixture fixture) : FleetHandlerTest(fixture)
{
    private static UpdateVaultSecret.Body Change(string? description = null, string? type = null, string? value = null, string[]? scope = null, DateTime? expiresAt = null) =>
        new(description, type, value, scope, expiresAt);

    private async Task<VaultSecretView> SecretAsync(TestUser user, string name = "TOKEN", Guid? instance = null) =>
        await Fixture.SendAsAsync(user, new CreateVaultSecret.Command(name, "first", null, instance, "value-one", ["deploy"], null));

    private Task<byte[]?> StoredAsync(Guid id) => Fixture.ScalarAsync<byte[]>("SELECT encrypted_value FROM fleet.vault_secrets WHERE id = @Id", new { Id = id });

    [Fact]
    public async Task A_metadata_change_keeps_the_value_and_version()
    {
        var operatorUser = await Fixture.CreateUserAsync(BaseRole.Operator);
        var secret = await SecretAsync(operatorUser);
        var ciphertext = await StoredAsync(secret.Id);
        var expires = DateTime.UtcNow.AddDays(10);

        var updated = await Fixture.SendAsAsync(operatorUser, new UpdateVaultSecret.Command(secret.Id, Change(description: "second", type: "api_key", scope: [" ci ", "ci", "deploy"], expiresAt: expires)));

        (updated.Name, updated.Description, updated.Type, updated.Version, updated.LastRotatedAt).ShouldBe(("TOKEN", "second", "API_KEY", 1L, (DateTime?)null));
        updated.Scope.ShouldBe(["ci", "deploy"]);
        updated.ExpiresAt!.Value.ShouldBe(expires, TimeSpan.FromMilliseconds(1));
        (updated.IsExpired, updated.DaysUntilExpiry).ShouldBe((false, 10L));
        (await StoredAsync(secret.Id)).ShouldBe(ciphertext);
        (await Fixture.SendAsAsync(operatorUser, new RevealVaultSecret.Command(secret.Id))).Value.ShouldBe("value-one");
        (await Fixture.QueryAsync<string>(
                "SELECT action || ' ' || actor_id || ' ' || resource_name || ' ' || (metadata->>'value_changed') FROM identity.audit_log WHERE resource_id = @Id AND action = 'vault.secret.update'",
                new { Id = secret.Id.ToString() }))
            .ShouldBe([$"vault.secret.update {operatorUser.Id} TOKEN false"]);
    }

    [Fact]
    public async Task A_new_value_is_re_encrypted_as_a_rotation()
    {
        var operatorUser = await Fixture.CreateUserAsync(BaseRole.Operator);
        var secret = await SecretAsync(operatorUser);
        var ciphertext = await StoredAsync(secret.Id);

        var updated = await Fixture.SendAsAsync(operatorUser, new UpdateVaultSecret.Command(secret.Id, Change(value: "value-two")));

        (updated.Version, updated.Description, updated.Type).ShouldBe((2L, "first", "ENV_VAR"));
        updated.Scope.ShouldBe(["deploy"]);
        updated.LastRotatedAt.ShouldNotBeNull();
        (await StoredAsync(secret.Id)).ShouldNotBe(ciphertext);
        (await Fixture.SendAsAsync(operatorUser, new RevealVaultSecret.Command(secret.Id))).Value.ShouldBe("value-two");
        (await Fixture.ScalarAsync<string>(
                "SELECT metadata::text FROM identity.audit_log WHERE resource_id = @Id AND action = 'vault.secret.update'", new { Id = secret.Id.ToString() }))!
            .ShouldNotContain("value-two");
    }

    [Fact]
    public async Task Unknown_other_teams_and_discovered_secrets_cannot_be_updated()
    {
        var operatorUser = await Fixture.CreateUserAsync(BaseRole.Operator);
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);
        var teamBox = await InstanceAsync("team-box");
        await Fixture.ExecuteAsync("UPDATE fleet.instances SET team_id = @Team WHERE id = @Id", new { Id = teamBox, Team = Guid.CreateVersion7() });
        var teamSecret = await SecretAsync(admin, "TEAM_TOKEN", teamBox);
        var discovered = Guid.CreateVersion7();
        await Fixture.ExecuteAsync(
            "INSERT INTO access.discovered_secrets (id, cluster_name, provider_type, secret_ref) VALUES (@Id, 'prod', 'kubernetes', 'ns/db')", new { Id = discovered });

        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(operatorUser, new UpdateVaultSecret.Command(Guid.CreateVersion7(), Change(description: "x"))));
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(operatorUser, new UpdateVaultSecret.Command(teamSecret.Id, Change(description: "x"))));
        await Should.ThrowAsync<ConflictException>(() => Fixture.SendAsAsync(operatorUser, new UpdateVaultSecret.Command(discovered, Change(description: "x"))));

        (await Fixture.ScalarAsync<string>("SELECT description FROM fleet.vault_secrets WHERE id = @Id", new { Id = teamSecret.Id })).ShouldBe("first");
        (await Fixture.SendAsAsync(admin, new UpdateVaultSecret.Command(teamSecret.Id, Change(description: "by admin")))).Description.ShouldBe("by admin");
    }

    [Fact]
    public async Task Invalid_updates_are_refused_and_change_nothing()
    {
        var operatorUser = await Fixture.CreateUserAsync(BaseRole.Operator);
        var secret = await SecretAsync(operatorUser);

        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(operatorUser, new UpdateVaultSecret.Command(secret.Id, Change(description: new string('d', 513)))));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(operatorUser, new UpdateVaultSecret.Command(secret.Id, Change(type: "PASSWORD"))));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(operatorUser, new UpdateVaultSecret.Command(secret.Id, Change(value: ""))));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(operatorUser, new UpdateVaultSecret.Command(secret.Id, Change(value: new string('v', 65537)))));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(operatorUser, new UpdateVaultSecret.Command(secret.Id, Change(scope: ["ok", ""]))));

        (await Fixture.QueryAsync<(string Description, long Version)>("SELECT description, version FROM fleet.vault_secrets WHERE id = @Id", new { Id = secret.Id }))
            .ShouldBe([("first", 1L)]);
    }
}

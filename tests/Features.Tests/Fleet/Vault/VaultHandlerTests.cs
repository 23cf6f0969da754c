using System.Security.Cryptography;
using System.Text;
using Capstan.Features.Fleet.Vault;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;

namespace Capstan.Features.Tests.Fleet.Vault;

/// <summary>The vault's storage: values envelope-encrypted and bound to their row, rotation under a fresh data key,
/// reveals audited without the value, and discovered secrets left alone.</summary>
public sealed class VaultHandlerTests(FleetHandlerFixture fixture) : FleetHandlerTest(fixture)
{
    private async Task<byte[]> StoredAsync(Guid id) =>
        (await Fixture.ScalarAsync<byte[]>("SELECT encrypted_value FROM fleet.vault_secrets WHERE id = @Id", new { Id = id }))!;

    [Fact]
    public async Task Values_are_encrypted_and_bound_to_their_row()
    {
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);
        var first = await Fixture.SendAsAsync(admin, new CreateVaultSecret.Command("FIRST", null, null, null, "value-one", null, null));
        var second = await Fixture.SendAsAsync(admin, new CreateVaultSecret.Command("SECOND", null, "FILE", null, "value-two", ["deployment"], null));

        var stored = await StoredAsync(first.Id);
        Encoding.UTF8.GetString(stored).ShouldNotContain("value-one");
        stored.Length.ShouldBe(97 + Encoding.UTF8.GetByteCount("value-one"));
        (await Fixture.SendAsAsync(admin, new RevealVaultSecret.Command(second.Id))).Value.ShouldBe("value-two");

        // A ciphertext copied onto another row does not decrypt there.
        await Fixture.ExecuteAsync("UPDATE fleet.vault_secrets SET encrypted_value = @Stored WHERE id = @Id", new { Stored = stored, Id = second.Id });
        await Should.ThrowAsync<CryptographicException>(() => Fixture.SendAsAsync(admin, new RevealVaultSecret.Command(second.Id)));
    }

    [Fact]
    public async Task Rotation_re_encrypts_under_a_fresh_key_and_reveals_are_audited()
    {
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);
        var secret = await Fixture.SendAsAsync(admin, new CreateVaultSecret.Command("TOKEN", "d", null, null, "same-value", null, null));
        var before = await StoredAsync(secret.Id);

        var rotated = await Fixture.SendAsAsync(admin, new RotateVaultSecret.Command(secret.Id, "same-value"));

        rotated.Version.ShouldBe(2);
        rotated.LastRotatedAt.ShouldNotBeNull();
        (await StoredAsync(secret.Id)).ShouldNotBe(before);
        var revealed = await Fixture.SendAsAsync(admin, new RevealVaultSecret.Command(secret.Id));
        revealed.ShouldBe(new RevealVaultSecret.Response(secret.Id, "TOKEN", "same-value", 2));
        var audit = await Fixture.QueryAsync<string>(
            "SELECT action || ' ' || metadata::text FROM identity.audit_log WHERE resource_id = @Id ORDER BY occurred_at", new { Id = secret.Id.ToString() });
        audit.Count.ShouldBe(3);
        audit[2].ShouldStartWith("vault.secret.reveal ");
        string.Concat(audit).ShouldNotContain("same-value");
    }

    [Fact]
    public async Task Discovered_secrets_cannot_be_changed_through_the_vault()
    {
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);
        var discovered = Guid.CreateVersion7();
        await Fixture.ExecuteAsync(
            "INSERT INTO access.discovered_secrets (id, cluster_name, provider_type, secret_ref) VALUES (@Id, 'prod', 'kubernetes', 'ns/db')", new { Id = discovered });

        await Should.ThrowAsync<ConflictException>(() => Fixture.SendAsAsync(admin, new RotateVaultSecret.Command(discovered, "x")));
        await Should.ThrowAsync<ConflictException>(() => Fixture.SendAsAsync(admin, new DeleteVaultSecret.Command(discovered)));
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(admin, new RevealVaultSecret.Command(Guid.CreateVersion7())));
    }

    [Fact]
    public async Task Expiry_is_reported_in_whole_days_rounded_up()
    {
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);

        var soon = await Fixture.SendAsAsync(admin, new CreateVaultSecret.Command("SOON", null, null, null, "v", null, DateTime.UtcNow.AddHours(30)));
        var gone = await Fixture.SendAsAsync(admin, new CreateVaultSecret.Command("GONE", null, null, null, "v", null, DateTime.UtcNow.AddHours(-30)));

        // 30 hours ahead → ceil(1.25) = 2 days; 30 hours ago → ceil(−1.25) = −1 day, expired.
        (soon.DaysUntilExpiry, soon.IsExpired).ShouldBe((2L, false));
        (gone.DaysUntilExpiry, gone.IsExpired).ShouldBe((-1L, true));
    }
}

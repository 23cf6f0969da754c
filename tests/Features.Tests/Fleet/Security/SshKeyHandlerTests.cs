using Capstan.Features.Fleet.Security;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using FluentValidation;

namespace Capstan.Features.Tests.Fleet.Security;

/// <summary>The SSH key audit: registering (insert or update by fingerprint, revoked keys stay revoked), the list's
/// weak/expired rules and summary, and revocation through the instance's agent.</summary>
public sealed class SshKeyHandlerTests(FleetHandlerFixture fixture) : FleetHandlerTest(fixture)
{
    [Fact]
    public async Task Registering_a_key_stores_it_and_registering_it_again_updates_without_losing_what_was_known()
    {
        var box = await InstanceAsync("box");
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        var created = await Fixture.SendAsAsync(viewer, new RegisterSshKey.Command(box, "SHA256:weak", "old laptop", "ssh-rsa", 1024, null, null));
        var updated = await Fixture.SendAsAsync(viewer, new RegisterSshKey.Command(box, "SHA256:weak", null, "ssh-rsa", null, null, DateTime.UtcNow));

        created.Created.ShouldBeTrue();
        (created.InstanceId, created.Fingerprint, created.KeyType, created.KeyBits, created.Status, created.IsWeak).ShouldBe((box, "SHA256:weak", "ssh-rsa", (long?)1024, "ACTIVE", true));
        updated.Created.ShouldBeFalse();
        (updated.Id, updated.KeyBits, updated.IsWeak).ShouldBe((created.Id, (long?)1024, true));
        var row = (await Fixture.QueryAsync<(string Comment, long Bits, DateTime? LastUsed)>(
            "SELECT comment, key_bits, last_used_at FROM fleet.ssh_keys WHERE instance_id = @Box", new { Box = box })).ShouldHaveSingleItem();
        (row.Comment, row.Bits).ShouldBe(("old laptop", 1024L));
        row.LastUsed.ShouldNotBeNull();
        (await Fixture.QueryAsync<(string Name, string Type)>(
                "SELECT resource_name, metadata->>'key_type' FROM identity.audit_log WHERE action = 'security.ssh_key.register' AND resource_id = @Id", new { Id = created.Id.ToString() }))
            .ShouldBe([("SHA256:weak", "ssh-rsa"), ("SHA256:weak", "ssh-rsa")]);
    }

    [Fact]
    public async Task A_key_past_its_expiry_is_registered_as_expired_and_a_strong_key_is_not_weak()
    {
        var box = await InstanceAsync("box");
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        var expired = await Fixture.SendAsAsync(viewer, new RegisterSshKey.Command(box, "SHA256:old", null, "ssh-ed25519", 256, DateTime.UtcNow.AddDays(-1), null));
        var strong = await Fixture.SendAsAsync(viewer, new RegisterSshKey.Command(box, "SHA256:new", null, "rsa", 4096, DateTime.UtcNow.AddDays(1), null));

        (expired.Status, expired.IsWeak).ShouldBe(("EXPIRED", false));
        (strong.Status, strong.IsWeak).ShouldBe(("ACTIVE", false));
    }

    [Fact]
    public async Task A_revoked_key_cannot_be_registered_again_and_an_unknown_or_hidden_instance_is_not_found()
    {
        var box = await InstanceAsync("box");
        var hidden = await InstanceAsync("hidden");
        await Fixture.HideInTeamAsync(hidden);
        await Fixture.SshKeyAsync(box, "SHA256:gone", status: "REVOKED");
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        await Should.ThrowAsync<ConflictException>(() => Fixture.SendAsAsync(viewer, new RegisterSshKey.Command(box, "SHA256:gone", "again", "rsa", 4096, null, null)));
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(viewer, new RegisterSshKey.Command(hidden, "SHA256:x", null, "rsa", null, null, null)));
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(viewer, new RegisterSshKey.Command(Guid.CreateVersion7(), "SHA256:x", null, "rsa", null, null, null)));
        (await Fixture.QueryAsync<(string Status, string? Comment)>("SELECT status, comment FROM fleet.ssh_keys")).ShouldBe([("REVOKED", null)]);
    }

    [Theory]
    [InlineData(false, "SHA256:x", "rsa", null, null)]
    [InlineData(true, "", "rsa", null, null)]
    [InlineData(true, "not a fingerprint", "rsa", null, null)]
    [InlineData(true, "SHA256:x", "", null, null)]
    [InlineData(true, "SHA256:x", "a-very-long-key-type-name-over-32-chars", null, null)]
    [InlineData(true, "SHA256:x", "rsa", 128, null)]
    [InlineData(true, "SHA256:x", "rsa", 32768, null)]
    [InlineData(true, "SHA256:x", "rsa", null, 257)]
    public async Task Registering_rejects_a_bad_instance_fingerprint_type_bit_count_or_comment(bool withInstance, string fingerprint, string keyType, int? bits, int? commentLength)
    {
        var box = await InstanceAsync("box");
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var command = new RegisterSshKey.Command(
            withInstance ? box : null, fingerprint, commentLength is { } length ? new string('c', length) : null, keyType, bits, null, null);

        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, command));
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM fleet.ssh_keys")).ShouldBe(0);
    }

    [Fact]
    public async Task The_list_reports_weak_and_expired_keys_filters_by_status_and_instance_and_hides_other_teams()
    {
        var box = await InstanceAsync("box");
        var alpha = await InstanceAsync("alpha");
        var hidden = await InstanceAsync("hidden");
        await Fixture.HideInTeamAsync(hidden);
        var now = DateTime.UtcNow;
        await Fixture.SshKeyAsync(box, "SHA256:weak", "ssh-rsa", 1024, createdAt: now.AddHours(-3));
        await Fixture.SshKeyAsync(box, "SHA256:dss", "ssh-dss", null, status: "REVOKED", createdAt: now.AddHours(-2));
        await Fixture.SshKeyAsync(box, "SHA256:expired", "ssh-ed25519", 256, expiresAt: now.AddDays(-1), createdAt: now.AddHours(-1));
        await Fixture.SshKeyAsync(alpha, "SHA256:good", "RSA", 4096);
        await Fixture.SshKeyAsync(hidden, "SHA256:hidden", "ssh-dss", null);
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        var all = await Fixture.SendAsAsync(viewer, new ListSshKeys.Query(null, null));
        var expired = await Fixture.SendAsAsync(viewer, new ListSshKeys.Query(null, "expired"));
        var onBox = await Fixture.SendAsAsync(viewer, new ListSshKeys.Query(box, "ACTIVE"));

        // By instance name, then creation.
        all.Keys.Select(key => key.Fingerprint).ShouldBe(["SHA256:good", "SHA256:weak", "SHA256:dss", "SHA256:expired"]);
        all.Keys.Select(key => (key.Status, key.IsWeak, key.IsExpired)).ShouldBe(
            [("ACTIVE", false, false), ("ACTIVE", true, false), ("REVOKED", true, false), ("EXPIRED", false, true)]);
        all.Count.ShouldBe(4);
        all.Summary.ShouldBe(all.Summary with { Total = 4, Active = 2, Revoked = 1, Expired = 1, Weak = 1 });
        all.Summary.ByType.ShouldBe(new Dictionary<string, long> { ["rsa"] = 1, ["ssh-dss"] = 1, ["ssh-ed25519"] = 1, ["ssh-rsa"] = 1 });
        expired.Keys.ShouldHaveSingleItem().Fingerprint.ShouldBe("SHA256:expired");
        onBox.Keys.ShouldHaveSingleItem().Fingerprint.ShouldBe("SHA256:weak");
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, new ListSshKeys.Query(null, "LOST")));
    }

    [Fact]
    public async Task Revoking_needs_the_agent_connected_and_then_dispatches_the_removal_and_records_the_revocation()
    {
        var box = await InstanceAsync("box");
        var key = await Fixture.SshKeyAsync(box, "SHA256:weakweak", "ssh-rsa", 1024);
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        (await Should.ThrowAsync<ConflictException>(() => Fixture.SendAsAsync(viewer, new RevokeSshKey.Command(key))))
            .Message.ShouldBe("Agent for instance 'box' is not connected: the key was not revoked; retry once the agent is back");
        (await Fixture.ScalarAsync<string>("SELECT status FROM fleet.ssh_keys WHERE id = @Id", new { Id = key })).ShouldBe("ACTIVE");
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM fleet.command_executions")).ShouldBe(0);

        await Fixture.MarkAgentConnectedAsync(box);
        var revoked = await Fixture.SendAsAsync(viewer, new RevokeSshKey.Command(key));

        (revoked.Id, revoked.Fingerprint, revoked.Status, revoked.InstanceId).ShouldBe((key, "SHA256:weakweak", "REVOKED", box));
        revoked.Command.ShouldBe(RevokeSshKey.RemovalScript("SHA256:weakweak"));
        revoked.Command.ShouldContain("fp='SHA256:weakweak'");
        var execution = (await Fixture.QueryAsync<(Guid Id, Guid Instance, string Command, string[] Args, Guid User)>(
            "SELECT id, instance_id, command, args, user_id FROM fleet.command_executions")).ShouldHaveSingleItem();
        (execution.Id, execution.Instance, execution.Command, execution.User).ShouldBe((revoked.CommandExecutionId, box, "/bin/sh", viewer.Id));
        execution.Args.ShouldBe(["-c", revoked.Command]);
        var row = (await Fixture.QueryAsync<(string Status, Guid RevokedBy, DateTime RevokedAt)>(
            "SELECT status, revoked_by, revoked_at FROM fleet.ssh_keys WHERE id = @Id", new { Id = key })).ShouldHaveSingleItem();
        (row.Status, row.RevokedBy).ShouldBe(("REVOKED", viewer.Id));
        row.RevokedAt.ShouldBe(revoked.RevokedAt, TimeSpan.FromMilliseconds(1));
        (await Fixture.ScalarAsync<string>("SELECT metadata->>'commandExecutionId' FROM identity.audit_log WHERE action = 'security.ssh_key.revoke' AND resource_id = @Id", new { Id = key.ToString() }))
            .ShouldBe(revoked.CommandExecutionId.ToString());

        await Should.ThrowAsync<ConflictException>(() => Fixture.SendAsAsync(viewer, new RevokeSshKey.Command(key)));
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM fleet.command_executions")).ShouldBe(1);
    }

    [Fact]
    public async Task Revoking_an_unknown_or_hidden_key_is_not_found_and_an_empty_id_is_invalid()
    {
        var hidden = await InstanceAsync("hidden");
        await Fixture.HideInTeamAsync(hidden);
        await Fixture.MarkAgentConnectedAsync(hidden);
        var key = await Fixture.SshKeyAsync(hidden, "SHA256:h");
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(viewer, new RevokeSshKey.Command(key)));
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(viewer, new RevokeSshKey.Command(Guid.CreateVersion7())));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, new RevokeSshKey.Command(Guid.Empty)));
        (await Fixture.ScalarAsync<string>("SELECT status FROM fleet.ssh_keys WHERE id = @Id", new { Id = key })).ShouldBe("ACTIVE");
    }
}

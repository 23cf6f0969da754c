using Capstan.Features.Fleet.Security;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using FluentValidation;

namespace Capstan.Features.Tests.Fleet.Security;

/// <summary>Secret-rotation records: recording (insert or update by instance and name), marking rotated, and the
/// list's overdue rule, filters and order.</summary>
public sealed class SecretRotationHandlerTests(FleetHandlerFixture fixture) : FleetHandlerTest(fixture)
{
    [Fact]
    public async Task Recording_a_rotation_stores_it_with_its_next_rotation_and_recording_again_updates_the_same_row()
    {
        var box = await InstanceAsync("box");
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var last = DateTime.UtcNow.AddDays(-10);

        var created = await Fixture.SendAsAsync(viewer, new RecordSecretRotation.Command(box, " DB_PASSWORD ", " password ", last, 30));
        var updated = await Fixture.SendAsAsync(viewer, new RecordSecretRotation.Command(box, "DB_PASSWORD", "token", last.AddDays(-40), null));

        created.Created.ShouldBeTrue();
        (created.InstanceId, created.SecretName, created.SecretType, created.RotationDays, created.IsOverdue).ShouldBe((box, "DB_PASSWORD", "password", 30L, false));
        created.NextRotation.ShouldBe(last.AddDays(30));
        updated.Created.ShouldBeFalse();
        updated.Id.ShouldBe(created.Id);
        // 50 days ago + the default 90 days is still ahead.
        (updated.SecretType, updated.RotationDays, updated.IsOverdue).ShouldBe(("token", 90L, false));
        var row = (await Fixture.QueryAsync<(string Type, long Days, bool Overdue, DateTime Next)>(
            "SELECT secret_type, rotation_days, is_overdue, next_rotation FROM fleet.secret_rotations WHERE instance_id = @Box", new { Box = box })).ShouldHaveSingleItem();
        (row.Type, row.Days, row.Overdue).ShouldBe(("token", 90L, false));
        row.Next.ShouldBe(last.AddDays(50), TimeSpan.FromMilliseconds(1));
        (await Fixture.QueryAsync<string>("SELECT resource_name FROM identity.audit_log WHERE action = 'security.secret_rotation.record' AND resource_id = @Id", new { Id = created.Id.ToString() }))
            .ShouldBe(["DB_PASSWORD", "DB_PASSWORD"]);
    }

    [Fact]
    public async Task A_secret_never_rotated_or_past_its_next_rotation_is_overdue()
    {
        var box = await InstanceAsync("box");
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        var never = await Fixture.SendAsAsync(viewer, new RecordSecretRotation.Command(box, "NEVER", "password", null, null));
        var late = await Fixture.SendAsAsync(viewer, new RecordSecretRotation.Command(box, "LATE", "password", DateTime.UtcNow.AddDays(-8), 7));

        (never.NextRotation, never.IsOverdue).ShouldBe((null, true));
        late.IsOverdue.ShouldBeTrue();
        (await Fixture.QueryAsync<bool>("SELECT is_overdue FROM fleet.secret_rotations ORDER BY secret_name")).ShouldBe([true, true]);
    }

    [Fact]
    public async Task A_future_rotation_is_a_bad_request_and_an_unknown_or_hidden_instance_is_not_found()
    {
        var box = await InstanceAsync("box");
        var hidden = await InstanceAsync("hidden");
        await Fixture.HideInTeamAsync(hidden);
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        await Should.ThrowAsync<BadRequestException>(() => Fixture.SendAsAsync(viewer, new RecordSecretRotation.Command(box, "S", "t", DateTime.UtcNow.AddHours(1), null)));
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(viewer, new RecordSecretRotation.Command(hidden, "S", "t", null, null)));
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(viewer, new RecordSecretRotation.Command(Guid.CreateVersion7(), "S", "t", null, null)));
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM fleet.secret_rotations")).ShouldBe(0);
    }

    [Theory]
    [InlineData(false, "S", "t", null)]
    [InlineData(true, "", "t", null)]
    [InlineData(true, "long-name", "t", null)]
    [InlineData(true, "S", "", null)]
    [InlineData(true, "S", "long-type", null)]
    [InlineData(true, "S", "t", 0)]
    [InlineData(true, "S", "t", 3651)]
    public async Task Recording_rejects_a_missing_instance_name_or_type_too_long_values_and_days_out_of_range(bool withInstance, string name, string type, int? days)
    {
        var box = await InstanceAsync("box");
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var command = new RecordSecretRotation.Command(
            withInstance ? box : null, name == "long-name" ? new string('n', 257) : name, type == "long-type" ? new string('t', 65) : type, null, days);

        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, command));
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM fleet.secret_rotations")).ShouldBe(0);
    }

    [Fact]
    public async Task Rotating_a_record_sets_it_rotated_now_and_audits()
    {
        var box = await InstanceAsync("box");
        var record = await Fixture.SecretRotationAsync(box, "API_TOKEN", null, rotationDays: 14, isOverdue: true);
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        var rotated = await Fixture.SendAsAsync(viewer, new RotateSecretRecord.Command(record));

        (rotated.Id, rotated.SecretName, rotated.IsOverdue).ShouldBe((record, "API_TOKEN", false));
        rotated.LastRotated.ShouldBe(DateTime.UtcNow, TimeSpan.FromMinutes(1));
        rotated.NextRotation.ShouldBe(rotated.LastRotated.AddDays(14), TimeSpan.FromMilliseconds(1));
        var row = (await Fixture.QueryAsync<(DateTime Last, bool Overdue)>("SELECT last_rotated, is_overdue FROM fleet.secret_rotations WHERE id = @Id", new { Id = record }))
            .ShouldHaveSingleItem();
        (row.Last, row.Overdue).ShouldBe((rotated.LastRotated, false));
        (await Fixture.ScalarAsync<string>("SELECT resource_name FROM identity.audit_log WHERE action = 'security.secret_rotation.rotate' AND resource_id = @Id", new { Id = record.ToString() }))
            .ShouldBe("API_TOKEN");
    }

    [Fact]
    public async Task Rotating_an_unknown_or_hidden_record_is_not_found_and_an_empty_id_is_invalid()
    {
        var hidden = await InstanceAsync("hidden");
        await Fixture.HideInTeamAsync(hidden);
        var record = await Fixture.SecretRotationAsync(hidden, "S", null);
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(viewer, new RotateSecretRecord.Command(record)));
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(viewer, new RotateSecretRecord.Command(Guid.CreateVersion7())));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, new RotateSecretRecord.Command(Guid.Empty)));
        (await Fixture.ScalarAsync<DateTime?>("SELECT last_rotated FROM fleet.secret_rotations WHERE id = @Id", new { Id = record })).ShouldBeNull();
    }

    [Fact]
    public async Task The_list_puts_overdue_records_first_and_filters_by_instance_and_overdue()
    {
        var box = await InstanceAsync("box");
        var other = await InstanceAsync("other");
        var hidden = await InstanceAsync("hidden");
        await Fixture.HideInTeamAsync(hidden);
        var now = DateTime.UtcNow;
        await Fixture.SecretRotationAsync(box, "FRESH", now.AddDays(-1), 90);
        await Fixture.SecretRotationAsync(box, "SOON", now.AddDays(-80), 90);
        await Fixture.SecretRotationAsync(box, "LATE", now.AddDays(-100), 90);
        await Fixture.SecretRotationAsync(other, "NEVER", null);
        await Fixture.SecretRotationAsync(other, "FLAGGED", now.AddDays(-2), 90, isOverdue: true);
        await Fixture.SecretRotationAsync(hidden, "HIDDEN", null);
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        var all = await Fixture.SendAsAsync(viewer, new ListSecretRotations.Query(null, false));
        var overdue = await Fixture.SendAsAsync(viewer, new ListSecretRotations.Query(null, true));
        var onBox = await Fixture.SendAsAsync(viewer, new ListSecretRotations.Query(box, false));

        // Overdue (NEVER has no next rotation: first), then the rest by next rotation.
        all.Secrets.Select(secret => secret.SecretName).ShouldBe(["NEVER", "LATE", "FLAGGED", "SOON", "FRESH"]);
        all.Count.ShouldBe(5);
        all.Secrets.Select(secret => secret.IsOverdue).ShouldBe([true, true, true, false, false]);
        all.Secrets.Select(secret => secret.DaysSinceRotation).ShouldBe([null, 100L, 2L, 80L, 1L]);
        all.Secrets[0].InstanceName.ShouldBe("other");
        overdue.Secrets.Select(secret => secret.SecretName).ShouldBe(["NEVER", "LATE", "FLAGGED"]);
        onBox.Secrets.Select(secret => secret.SecretName).ShouldBe(["LATE", "SOON", "FRESH"]);
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, new ListSecretRotations.Query(Guid.Empty, false)));
    }
}

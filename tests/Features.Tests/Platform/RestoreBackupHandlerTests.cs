using Capstan.Features.Platform;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using FluentValidation;
using Microsoft.AspNetCore.Http;

namespace Capstan.Features.Tests.Platform;

/// <summary>Restoring a backup through the pipeline: the backed-up state comes back after a safety backup, and uploads
/// that are not dumps, badly named or typed, damaged, or sent while another backup runs change nothing.</summary>
public sealed class RestoreBackupHandlerTests(FeaturesFixture fixture) : HandlerTest(fixture)
{
    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        if (Directory.Exists(Fixture.Factory.BackupDirectory))
        {
            Directory.Delete(Fixture.Factory.BackupDirectory, recursive: true);
        }
    }

    private static FormFile Upload(byte[] content, string filename, string contentType = "application/octet-stream") =>
        new(new MemoryStream(content), 0, content.Length, "file", filename) { Headers = new HeaderDictionary(), ContentType = contentType };

    private Task<long> UsersAsync() => Fixture.ScalarAsync<long>("SELECT count(*) FROM identity.users");

    [Fact]
    public async Task A_backup_restores_the_backed_up_state_after_a_safety_backup()
    {
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);
        var keeper = await Fixture.CreateUserAsync(BaseRole.Viewer, "keeper");
        var backup = await Fixture.SendAsAsync(admin, new CreateBackup.Command());
        await Fixture.ExecuteAsync("DELETE FROM identity.users WHERE id = @Id", new { keeper.Id });
        await Fixture.CreateUserAsync(BaseRole.Viewer, "after-backup");
        var bytes = await File.ReadAllBytesAsync(Path.Combine(Fixture.Factory.BackupDirectory, backup.Filename));

        var restored = await Fixture.SendAsAsync(admin, new RestoreBackup.Command(Upload(bytes, backup.Filename)));

        (restored.Success, restored.Message, restored.Backup.Filename, restored.Backup.Encrypted).ShouldBe((true, "Database restored successfully.", "restored-database", false));
        restored.Backup.SizeBytes.ShouldBeGreaterThan(0);
        restored.SafetyBackup.Filename.ShouldNotBe(backup.Filename);
        restored.SafetyBackup.Encrypted.ShouldBeTrue();
        File.Exists(Path.Combine(Fixture.Factory.BackupDirectory, restored.SafetyBackup.Filename)).ShouldBeTrue();
        (await Fixture.QueryAsync<string>("SELECT username FROM identity.users WHERE username IN ('keeper', 'after-backup')")).ShouldBe(["keeper"]);
        (await Fixture.QueryAsync<string>("SELECT actor_id || ' ' || resource_id || ' ' || (metadata->>'safety_backup') FROM identity.audit_log WHERE action = 'backup.restore'"))
            .ShouldBe([$"{admin.Id} {backup.Filename} {restored.SafetyBackup.Filename}"]);
    }

    [Fact]
    public async Task An_upload_that_is_not_a_dump_or_cannot_be_decrypted_is_refused_and_changes_nothing()
    {
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);
        var users = await UsersAsync();

        var garbage = await Should.ThrowAsync<BadRequestException>(() => Fixture.SendAsAsync(admin, new RestoreBackup.Command(Upload("not a dump"u8.ToArray(), "x.dump"))));
        var damaged = await Should.ThrowAsync<BadRequestException>(() =>
            Fixture.SendAsAsync(admin, new RestoreBackup.Command(Upload([.. "CAPSE1\0\0"u8.ToArray(), 0, 0, 0, 5, 1, 2, 3, 4, 5], "x.dump.enc"))));

        garbage.Message.ShouldBe("The file is not a PostgreSQL custom-format dump");
        damaged.Details!["file"].Single().ShouldStartWith("The backup could not be decrypted");
        (await UsersAsync()).ShouldBe(users);
        (Directory.Exists(Fixture.Factory.BackupDirectory) ? Directory.GetFiles(Fixture.Factory.BackupDirectory) : []).ShouldBeEmpty();
    }

    [Fact]
    public async Task A_missing_file_a_wrong_name_or_content_type_is_invalid()
    {
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);

        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(admin, new RestoreBackup.Command(null)));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(admin, new RestoreBackup.Command(Upload("PGDMP"u8.ToArray(), "x.sql"))));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(admin, new RestoreBackup.Command(Upload("PGDMP"u8.ToArray(), "x.dump", "text/plain"))));
    }

    [Fact]
    public async Task A_restore_while_a_backup_holds_the_lock_is_a_conflict()
    {
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);
        await using var holder = new Npgsql.NpgsqlConnection(Fixture.ConnectionString);
        await holder.OpenAsync();
        await using var transaction = await holder.BeginTransactionAsync();
        await using (var take = new Npgsql.NpgsqlCommand($"SELECT pg_advisory_xact_lock({CreateBackup.LockKey})", holder, transaction))
        {
            await take.ExecuteNonQueryAsync();
        }

        var error = await Should.ThrowAsync<ConflictException>(() => Fixture.SendAsAsync(admin, new RestoreBackup.Command(Upload("PGDMP"u8.ToArray(), "x.dump"))));

        error.Message.ShouldBe("A backup or restore is already running");
    }
}

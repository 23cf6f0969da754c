using Capstan.Features.Platform;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using FluentValidation;

namespace Capstan.Features.Tests.Platform;

public sealed class BackupHandlerTests(FeaturesFixture fixture) : HandlerTest(fixture)
{
    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        if (Directory.Exists(Fixture.Factory.BackupDirectory))
        {
            Directory.Delete(Fixture.Factory.BackupDirectory, recursive: true);
        }
    }

    [Fact]
    public async Task Create_lists_and_deletes_through_the_handlers()
    {
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);

        var created = await Fixture.SendAsAsync(admin, new CreateBackup.Command());
        var listed = await Fixture.SendAsAsync(admin, new ListBackups.Query());
        var download = await Fixture.SendAsAsync(admin, new DownloadBackup.Command(created.Filename));
        await Fixture.SendAsAsync(admin, new DeleteBackup.Command(created.Filename));

        listed.Backups.Single().ShouldBe(created);
        download.AttachmentName.ShouldBe(created.Filename[..^4]);
        download.Encrypted.ShouldBeTrue();
        (await Fixture.SendAsAsync(admin, new ListBackups.Query())).Backups.ShouldBeEmpty();
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(admin, new DeleteBackup.Command(created.Filename)));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(admin, new DeleteBackup.Command("")));
    }

    [Fact]
    public async Task A_running_backup_holds_the_lock_against_another()
    {
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);
        await using var holder = new Npgsql.NpgsqlConnection(Fixture.ConnectionString);
        await holder.OpenAsync();
        await using var transaction = await holder.BeginTransactionAsync();
        await using (var take = new Npgsql.NpgsqlCommand($"SELECT pg_advisory_xact_lock({CreateBackup.LockKey})", holder, transaction))
        {
            await take.ExecuteNonQueryAsync();
        }

        var error = await Should.ThrowAsync<ConflictException>(() => Fixture.SendAsAsync(admin, new CreateBackup.Command()));

        error.Message.ShouldBe("A backup or restore is already running");
    }
}

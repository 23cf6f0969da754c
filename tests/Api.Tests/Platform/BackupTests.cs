using System.Net;
using System.Net.Http.Headers;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;

namespace Capstan.Api.Tests.Platform;

public sealed class BackupFixture : ApiFixture
{
    protected override string Purpose => "backups";
}

[CollectionDefinition(Name)]
public sealed class BackupCollection : ICollectionFixture<BackupFixture>
{
    public const string Name = "backups";
}

/// <summary>Seed 000's admin backups on PostgreSQL: pg_dump, encrypted at rest, restored in one transaction.</summary>
[Collection(BackupCollection.Name)]
public sealed class BackupTests(BackupFixture fixture) : ApiTest<BackupFixture>(fixture)
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
    public async Task Create_list_download_delete_round_trip()
    {
        var (admin, _) = await Fixture.ClientAsAsync(BaseRole.Admin);

        var created = await admin.PostAsync("/api/v1/admin/backups", null);
        var backup = await created.ShouldBeJsonAsync(HttpStatusCode.Created);
        backup.PropertyNames().ShouldBe(["filename", "sizeBytes", "createdAt", "encrypted"]);
        var filename = backup.GetProperty("filename").GetString()!;
        filename.ShouldMatch(@"^capstan-backup-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z\.dump\.enc$");
        backup.GetProperty("encrypted").GetBoolean().ShouldBeTrue();

        var onDisk = await File.ReadAllBytesAsync(Path.Combine(Fixture.Factory.BackupDirectory, filename));
        onDisk.AsSpan(0, 6).SequenceEqual("CAPSE1"u8).ShouldBeTrue();
        System.Text.Encoding.Latin1.GetString(onDisk).ShouldNotContain("identity.users");

        var list = await (await admin.GetAsync("/api/v1/admin/backups")).ShouldBeJsonAsync();
        list.GetProperty("backups")[0].GetProperty("filename").GetString().ShouldBe(filename);

        var download = await admin.GetAsync($"/api/v1/admin/backups/download?filename={filename}");
        download.StatusCode.ShouldBe(HttpStatusCode.OK);
        download.Content.Headers.ContentDisposition!.FileName!.Trim('"').ShouldBe(filename[..^4]);
        var dump = await download.Content.ReadAsByteArrayAsync();
        dump.AsSpan(0, 5).SequenceEqual("PGDMP"u8).ShouldBeTrue();

        (await admin.DeleteAsync($"/api/v1/admin/backups?filename={filename}")).StatusCode.ShouldBe(HttpStatusCode.OK);
        (await (await admin.GetAsync("/api/v1/admin/backups")).ShouldBeJsonAsync()).GetProperty("backups").GetArrayLength().ShouldBe(0);
        (await Fixture.QueryAsync<string>("SELECT action FROM identity.audit_log WHERE action LIKE 'backup.%' ORDER BY occurred_at"))
            .ShouldBe(["backup.create", "backup.download", "backup.delete"]);
    }

    [Fact]
    public async Task Restore_brings_back_the_backed_up_state_after_a_safety_backup()
    {
        var (admin, _) = await Fixture.ClientAsAsync(BaseRole.Admin);
        var keeper = await Fixture.CreateUserAsync(BaseRole.Viewer, "keeper");
        var filename = (await (await admin.PostAsync("/api/v1/admin/backups", null)).ShouldBeJsonAsync(HttpStatusCode.Created)).GetProperty("filename").GetString()!;
        await Fixture.ExecuteAsync("DELETE FROM identity.users WHERE id = @Id", new { keeper.Id });
        await Fixture.CreateUserAsync(BaseRole.Viewer, "after-backup");

        var restored = await admin.PostAsync("/api/v1/admin/backups/restore", Upload(await File.ReadAllBytesAsync(Path.Combine(Fixture.Factory.BackupDirectory, filename)), filename));

        var body = await restored.ShouldBeJsonAsync();
        body.GetProperty("success").GetBoolean().ShouldBeTrue();
        body.GetProperty("backup").GetProperty("filename").GetString().ShouldBe("restored-database");
        var safety = body.GetProperty("safetyBackup").GetProperty("filename").GetString()!;
        File.Exists(Path.Combine(Fixture.Factory.BackupDirectory, safety)).ShouldBeTrue();
        (await Fixture.QueryAsync<string>("SELECT username FROM identity.users WHERE username IN ('keeper', 'after-backup')")).ShouldBe(["keeper"]);
        (await admin.GetAsync("/api/v1/admin/backups")).StatusCode.ShouldBe(HttpStatusCode.OK);
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM identity.audit_log WHERE action = 'backup.restore'")).ShouldBe(1);
    }

    [Fact]
    public async Task A_plain_dump_downloaded_earlier_restores_too()
    {
        var (admin, _) = await Fixture.ClientAsAsync(BaseRole.Admin);
        var filename = (await (await admin.PostAsync("/api/v1/admin/backups", null)).ShouldBeJsonAsync(HttpStatusCode.Created)).GetProperty("filename").GetString()!;
        var dump = await (await admin.GetAsync($"/api/v1/admin/backups/download?filename={filename}")).Content.ReadAsByteArrayAsync();

        (await admin.PostAsync("/api/v1/admin/backups/restore", Upload(dump, filename[..^4]))).StatusCode.ShouldBe(HttpStatusCode.OK);
    }

    [Fact]
    public async Task Restore_refuses_what_is_not_a_dump_and_changes_nothing()
    {
        var (admin, _) = await Fixture.ClientAsAsync(BaseRole.Admin);
        var users = await Fixture.ScalarAsync<long>("SELECT count(*) FROM identity.users");

        var garbage = await admin.PostAsync("/api/v1/admin/backups/restore", Upload("not a dump"u8.ToArray(), "x.dump"));
        var wrongName = await admin.PostAsync("/api/v1/admin/backups/restore", Upload("PGDMP"u8.ToArray(), "x.sql"));
        var damaged = await admin.PostAsync("/api/v1/admin/backups/restore", Upload([.. "CAPSE1\0\0"u8.ToArray(), 0, 0, 0, 5, 1, 2, 3, 4, 5], "x.dump.enc"));
        var missing = await admin.PostAsync("/api/v1/admin/backups/restore", new MultipartFormDataContent());
        var noBody = await admin.PostAsync("/api/v1/admin/backups/restore", null);
        var notAForm = await admin.PostAsync("/api/v1/admin/backups/restore", new StringContent("{}", System.Text.Encoding.UTF8, "application/json"));

        (await garbage.ShouldBeErrorAsync(HttpStatusCode.BadRequest)).GetProperty("message").GetString().ShouldBe("The file is not a PostgreSQL custom-format dump");
        await wrongName.ShouldBeErrorAsync(HttpStatusCode.BadRequest);
        await damaged.ShouldBeErrorAsync(HttpStatusCode.BadRequest);
        await missing.ShouldBeErrorAsync(HttpStatusCode.BadRequest);
        (await noBody.ShouldBeErrorAsync(HttpStatusCode.BadRequest)).GetProperty("message").GetString()!.ShouldContain("'file'");
        await notAForm.ShouldBeErrorAsync(HttpStatusCode.UnsupportedMediaType);
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM identity.users")).ShouldBe(users);
    }

    [Theory]
    [InlineData("../../etc/passwd")]
    [InlineData("capstan-backup-2026-01-01T00-00-00-000Z.dump.enc/../x")]
    [InlineData("")]
    public async Task Filenames_that_are_not_backups_are_400(string filename)
    {
        var (admin, _) = await Fixture.ClientAsAsync(BaseRole.Admin);

        await (await admin.GetAsync($"/api/v1/admin/backups/download?filename={Uri.EscapeDataString(filename)}")).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
        await (await admin.DeleteAsync($"/api/v1/admin/backups?filename={Uri.EscapeDataString(filename)}")).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Unknown_backups_are_404_and_non_admins_403()
    {
        var (admin, _) = await Fixture.ClientAsAsync(BaseRole.Admin);
        var (operatorClient, _) = await Fixture.ClientAsAsync(BaseRole.Operator);
        const string Absent = "capstan-backup-2020-01-01T00-00-00-000Z.dump.enc";

        await (await admin.GetAsync($"/api/v1/admin/backups/download?filename={Absent}")).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        await (await admin.DeleteAsync($"/api/v1/admin/backups?filename={Absent}")).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        await (await operatorClient.GetAsync("/api/v1/admin/backups")).ShouldBeErrorAsync(HttpStatusCode.Forbidden);
        await (await operatorClient.PostAsync("/api/v1/admin/backups", null)).ShouldBeErrorAsync(HttpStatusCode.Forbidden);
        await (await Client.GetAsync("/api/v1/admin/backups")).ShouldBeErrorAsync(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task Only_the_newest_ten_are_kept()
    {
        var (admin, _) = await Fixture.ClientAsAsync(BaseRole.Admin);
        Directory.CreateDirectory(Fixture.Factory.BackupDirectory);
        foreach (var stale in Directory.GetFiles(Fixture.Factory.BackupDirectory))
        {
            File.Delete(stale);
        }

        for (var day = 1; day <= 10; day++)
        {
            await File.WriteAllTextAsync(Path.Combine(Fixture.Factory.BackupDirectory, $"capstan-backup-2020-01-{day:00}T00-00-00-000Z.dump.enc"), "old");
        }

        (await admin.PostAsync("/api/v1/admin/backups", null)).StatusCode.ShouldBe(HttpStatusCode.Created);

        var names = Directory.GetFiles(Fixture.Factory.BackupDirectory).Select(Path.GetFileName).ToList();
        names.Count.ShouldBe(10);
        names.ShouldNotContain("capstan-backup-2020-01-01T00-00-00-000Z.dump.enc");
    }

    private static MultipartFormDataContent Upload(byte[] bytes, string name)
    {
        var file = new ByteArrayContent(bytes);
        file.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        return new MultipartFormDataContent { { file, "file", name } };
    }
}

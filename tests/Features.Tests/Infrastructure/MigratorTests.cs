using Capstan.Infrastructure.Data;
using Capstan.Tests.Support;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace Capstan.Features.Tests.Infrastructure;

/// <summary>The migrator on real, empty databases.</summary>
public sealed class MigratorTests
{
    private static readonly IReadOnlyList<MigrationScript> TwoScripts = Migrator.Parse(
    [
        ("0001_first.sql", "CREATE TABLE public.first_table (id int PRIMARY KEY);"),
        ("0002_second.sql", "CREATE TABLE public.second_table (id int PRIMARY KEY);\r\nINSERT INTO public.first_table VALUES (1);"),
    ]);

    [Fact]
    public async Task Applies_the_repository_migrations_and_a_second_run_changes_nothing()
    {
        await using var dataSource = NpgsqlDataSource.Create(PostgresServer.CreateEmptyDatabase("migrate"));
        var migrator = new Migrator(dataSource, NullLogger<Migrator>.Instance);

        var first = await migrator.MigrateAsync(CancellationToken.None);
        var second = await migrator.MigrateAsync(CancellationToken.None);

        first.Applied.Count.ShouldBe(Migrator.EmbeddedScripts.Count);
        first.Applied.ShouldContain("0001_create_area_schemas.sql");
        second.Applied.ShouldBeEmpty();
        second.AlreadyApplied.ShouldBe(Migrator.EmbeddedScripts.Count);
        await using var command = dataSource.CreateCommand("SELECT count(*) FROM information_schema.schemata WHERE schema_name IN ('platform','identity','clusters','gitops','delivery','access','fleet')");
        (await command.ExecuteScalarAsync()).ShouldBe(7L);
    }

    [Fact]
    public async Task Records_each_file_with_its_checksum_in_order()
    {
        await using var dataSource = NpgsqlDataSource.Create(PostgresServer.CreateEmptyDatabase("migrate"));

        var result = await new Migrator(dataSource, NullLogger<Migrator>.Instance).MigrateAsync(TwoScripts, CancellationToken.None);

        result.Applied.ShouldBe(["0001_first.sql", "0002_second.sql"]);
        await using var command = dataSource.CreateCommand("SELECT string_agg(version || ':' || checksum, ',' ORDER BY version) FROM public.schema_migrations");
        (await command.ExecuteScalarAsync()).ShouldBe($"0001:{TwoScripts[0].Checksum},0002:{TwoScripts[1].Checksum}");
    }

    [Fact]
    public async Task Refuses_to_run_when_an_applied_file_changed()
    {
        await using var dataSource = NpgsqlDataSource.Create(PostgresServer.CreateEmptyDatabase("migrate"));
        var migrator = new Migrator(dataSource, NullLogger<Migrator>.Instance);
        await migrator.MigrateAsync(TwoScripts, CancellationToken.None);
        var edited = Migrator.Parse(
        [
            ("0001_first.sql", "CREATE TABLE public.first_table (id bigint PRIMARY KEY);"),
            ("0002_second.sql", TwoScripts[1].Sql),
            ("0003_third.sql", "CREATE TABLE public.third_table (id int);"),
        ]);

        var error = await Should.ThrowAsync<MigrationChangedException>(() => migrator.MigrateAsync(edited, CancellationToken.None));

        error.FileName.ShouldBe("0001_first.sql");
        error.Message.ShouldContain("0001_first.sql was changed after it was applied");
        await using var command = dataSource.CreateCommand("SELECT count(*) FROM public.schema_migrations");
        (await command.ExecuteScalarAsync()).ShouldBe(2L);
    }

    [Fact]
    public void Line_endings_do_not_count_as_a_change()
    {
        var unix = Migrator.Parse([("0001_a.sql", "SELECT 1;\nSELECT 2;\n")]);
        var windows = Migrator.Parse([("0001_a.sql", "SELECT 1;\r\nSELECT 2;\r\n")]);

        windows[0].Checksum.ShouldBe(unix[0].Checksum);
    }

    [Fact]
    public async Task A_failing_migration_rolls_back_whole_and_is_not_recorded()
    {
        await using var dataSource = NpgsqlDataSource.Create(PostgresServer.CreateEmptyDatabase("migrate"));
        var broken = Migrator.Parse(
        [
            ("0001_ok.sql", "CREATE TABLE public.ok_table (id int);"),
            ("0002_broken.sql", "CREATE TABLE public.half_table (id int);\nSELECT * FROM public.no_such_table;"),
        ]);

        await Should.ThrowAsync<PostgresException>(() => new Migrator(dataSource, NullLogger<Migrator>.Instance).MigrateAsync(broken, CancellationToken.None));

        await using var command = dataSource.CreateCommand("SELECT (SELECT string_agg(version, ',') FROM public.schema_migrations), to_regclass('public.half_table') IS NULL");
        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        reader.GetString(0).ShouldBe("0001");
        reader.GetBoolean(1).ShouldBeTrue();
    }

    [Fact]
    public async Task Concurrent_starters_apply_each_migration_once()
    {
        var connectionString = PostgresServer.CreateEmptyDatabase("migrate");
        var counting = Migrator.Parse(
        [
            ("0001_counter.sql", "CREATE TABLE public.applications (n int); INSERT INTO public.applications VALUES (1); SELECT pg_sleep(0.3);"),
            ("0002_more.sql", "INSERT INTO public.applications VALUES (2);"),
        ]);

        var results = await Task.WhenAll(Enumerable.Range(0, 3).Select(async _ =>
        {
            await using var dataSource = NpgsqlDataSource.Create(connectionString);
            return await new Migrator(dataSource, NullLogger<Migrator>.Instance).MigrateAsync(counting, CancellationToken.None);
        }));

        results.Sum(result => result.Applied.Count).ShouldBe(2);
        await using var check = NpgsqlDataSource.Create(connectionString);
        await using var command = check.CreateCommand("SELECT count(*) FROM public.applications");
        (await command.ExecuteScalarAsync()).ShouldBe(2L);
    }

    [Theory]
    [InlineData("1_short.sql")]
    [InlineData("0001-dash.sql")]
    [InlineData("0001_Upper.sql")]
    [InlineData("0001_name.txt")]
    public void File_names_must_be_numbered_lower_snake_sql(string name)
    {
        Should.Throw<InvalidOperationException>(() => Migrator.Parse([(name, "SELECT 1;")]));
    }

    [Fact]
    public void Duplicate_numbers_are_refused()
    {
        var error = Should.Throw<InvalidOperationException>(() => Migrator.Parse([("0001_a.sql", "SELECT 1;"), ("0001_b.sql", "SELECT 2;")]));

        error.Message.ShouldContain("0001_a.sql, 0001_b.sql");
    }
}

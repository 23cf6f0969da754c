using Capstan.Features.Fleet.Extensions;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using FluentValidation;

namespace Capstan.Features.Tests.Fleet.Extensions;

/// <summary>Usage records (install, removal, the matrix, analytics) and the policy list and delete, through the
/// pipeline, with what the caller can see and what is stored read back.</summary>
public sealed class ExtensionUsageHandlerTests(FleetHandlerFixture fixture) : ExtensionRegistryHandlerTest(fixture)
{
    private static RecordExtensionUsage.Command Install(Guid extension, Guid instance, string? version = "1.2.0", bool? failed = null, long? durationMs = 1500) =>
        new(extension, instance, version, "install", durationMs, failed, failed == true ? "boom" : null);

    private static RecordExtensionUsage.Command Remove(Guid extension, Guid instance) => new(extension, instance, null, "remove", null, null, null);

    private Task<long> DownloadsAsync(Guid extension) => Fixture.ScalarAsync<long>("SELECT download_count FROM fleet.extensions WHERE id = @Id", new { Id = extension });

    [Fact]
    public async Task An_install_closes_the_previous_record_adds_one_and_counts_a_download()
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var extension = await ExtensionAsync("nodejs", downloads: 7);
        var instance = await InstanceAsync("box");
        var previous = await UsageAsync(extension, instance, DateTime.UtcNow.AddDays(-1), "1.0.0");

        var recorded = await Fixture.SendAsAsync(viewer, Install(extension, instance, " 1.2.0 "));

        recorded.Recorded.ShouldBeTrue();
        recorded.Created.ShouldBeTrue();
        var usage = recorded.Usage.ShouldNotBeNull();
        (usage.ExtensionId, usage.InstanceId, usage.Version, usage.InstallDurationMs, usage.Failed, usage.RemovedAt).ShouldBe((extension, instance, "1.2.0", (long?)1500, false, (DateTime?)null));
        (await Fixture.ScalarAsync<DateTime?>("SELECT removed_at FROM fleet.extension_usages WHERE id = @Id", new { Id = previous })).ShouldNotBeNull();
        (await Fixture.QueryAsync<Guid>("SELECT id FROM fleet.extension_usages WHERE removed_at IS NULL")).ShouldBe([usage.Id]);
        (await DownloadsAsync(extension)).ShouldBe(8);
        (await AuditAsync(extension)).ShouldBe([$"extension.install {viewer.Id} nodejs"]);
        (await Fixture.ScalarAsync<string>("SELECT metadata->>'instance' FROM identity.audit_log WHERE resource_id = @Id", new { Id = extension.ToString() })).ShouldBe("box");
    }

    [Fact]
    public async Task A_failed_install_is_recorded_without_a_download()
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var extension = await ExtensionAsync("nodejs", downloads: 7);
        var instance = await InstanceAsync("box");

        var recorded = await Fixture.SendAsAsync(viewer, Install(extension, instance, failed: true));

        (recorded.Usage!.Failed, recorded.Usage.Error).ShouldBe((true, "boom"));
        (await DownloadsAsync(extension)).ShouldBe(7);
    }

    [Fact]
    public async Task A_removal_closes_the_latest_active_record_or_reports_none()
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var extension = await ExtensionAsync("nodejs");
        var instance = await InstanceAsync("box");
        var other = await InstanceAsync("other");
        var older = await UsageAsync(extension, instance, DateTime.UtcNow.AddHours(-2));
        var latest = await UsageAsync(extension, instance, DateTime.UtcNow.AddHours(-1));
        var elsewhere = await UsageAsync(extension, other, DateTime.UtcNow.AddHours(-1));

        var removed = await Fixture.SendAsAsync(viewer, Remove(extension, instance));
        var nothing = await Fixture.SendAsAsync(viewer, Remove(extension, await InstanceAsync("bare")));

        removed.Created.ShouldBeFalse();
        removed.Usage!.Id.ShouldBe(latest);
        removed.Usage.RemovedAt.ShouldNotBeNull();
        (await Fixture.QueryAsync<Guid>("SELECT id FROM fleet.extension_usages WHERE removed_at IS NULL")).ShouldBe([older, elsewhere], ignoreOrder: true);
        nothing.ShouldBe(new RecordExtensionUsage.Response(true, null));
        (await DownloadsAsync(extension)).ShouldBe(0);
    }

    [Fact]
    public async Task Unknown_or_invisible_targets_are_not_found_and_nothing_is_stored()
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);
        var extension = await ExtensionAsync("nodejs");
        var instance = await InstanceAsync("box");
        var teamBox = await TeamInstanceAsync("team-box");

        (await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(viewer, Install(Guid.CreateVersion7(), instance)))).Message.ShouldStartWith("Extension");
        (await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(viewer, Install(extension, Guid.CreateVersion7())))).Message.ShouldStartWith("Instance");
        (await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(viewer, Install(extension, teamBox)))).Message.ShouldStartWith("Instance");
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM fleet.extension_usages")).ShouldBe(0);

        (await Fixture.SendAsAsync(admin, Install(extension, teamBox))).Usage!.InstanceId.ShouldBe(teamBox);
    }

    [Fact]
    public async Task Invalid_usage_records_are_refused()
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var extension = await ExtensionAsync("nodejs");
        var instance = await InstanceAsync("box");

        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, new RecordExtensionUsage.Command(extension, instance, "1.0.0", "upgrade", null, null, null)));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, new RecordExtensionUsage.Command(null, instance, "1.0.0", "install", null, null, null)));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, new RecordExtensionUsage.Command(Guid.Empty, instance, "1.0.0", "install", null, null, null)));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, new RecordExtensionUsage.Command(extension, Guid.Empty, "1.0.0", "install", null, null, null)));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, Install(extension, instance, version: null)));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, Install(extension, instance, version: new string('1', 65))));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, Install(extension, instance, durationMs: -1)));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, new RecordExtensionUsage.Command(extension, instance, "1", "install", null, true, new string('e', 4001))));

        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM fleet.extension_usages")).ShouldBe(0);
    }

    [Fact]
    public async Task The_matrix_holds_the_latest_active_record_of_each_visible_pair()
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var node = await ExtensionAsync("nodejs", category: "languages");
        var docker = await ExtensionAsync("docker", category: "tools");
        var unused = await ExtensionAsync("unused");
        var first = await InstanceAsync("first");
        var second = await InstanceAsync("second");
        var hidden = await TeamInstanceAsync("hidden");
        var now = DateTime.UtcNow;
        await UsageAsync(node, first, now.AddHours(-5), "1.0.0");
        await UsageAsync(node, first, now.AddHours(-1), "1.1.0", failed: true);
        await UsageAsync(docker, first, now.AddHours(-2), "24.0.0");
        await UsageAsync(docker, second, now.AddHours(-3), "23.0.0", removedAt: now);
        await UsageAsync(unused, second, now.AddHours(-3), removedAt: now);
        await UsageAsync(node, hidden, now);

        var matrix = await Fixture.SendAsAsync(viewer, new GetUsageMatrix.Query([], [], null));

        matrix.InstanceIds.ShouldBe([first]);
        matrix.Matrix[first].Keys.ShouldBe([node, docker], ignoreOrder: true);
        matrix.Matrix[first][node].ShouldBe(new GetUsageMatrix.Cell(true, "1.1.0", true, matrix.Matrix[first][node].InstalledAt));
        matrix.Matrix[first][docker].Version.ShouldBe("24.0.0");
        matrix.Extensions.Select(extension => $"{extension.Name}:{extension.Category}").ShouldBe(["docker:tools", "nodejs:languages"]);
    }

    [Fact]
    public async Task The_matrix_narrows_by_instances_extensions_and_install_time()
    {
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);
        var node = await ExtensionAsync("nodejs");
        var docker = await ExtensionAsync("docker");
        var first = await InstanceAsync("first");
        var second = await TeamInstanceAsync("second");
        var now = DateTime.UtcNow;
        await UsageAsync(node, first, now.AddDays(-3));
        await UsageAsync(docker, first, now.AddHours(-1));
        await UsageAsync(node, second, now.AddHours(-1));

        var all = await Fixture.SendAsAsync(admin, new GetUsageMatrix.Query([], [], null));
        var oneInstance = await Fixture.SendAsAsync(admin, new GetUsageMatrix.Query([second], [], null));
        var oneExtension = await Fixture.SendAsAsync(admin, new GetUsageMatrix.Query([], [node], null));
        var recent = await Fixture.SendAsAsync(admin, new GetUsageMatrix.Query([], [], now.AddDays(-1)));

        all.InstanceIds.ShouldBe(new[] { first, second }.Order());
        oneInstance.InstanceIds.ShouldBe([second]);
        oneExtension.Matrix.Values.SelectMany(cells => cells.Keys).Distinct().ShouldBe([node]);
        oneExtension.InstanceIds.Count.ShouldBe(2);
        recent.Matrix[first].Keys.ShouldBe([docker]);
        recent.Matrix[second].Keys.ShouldBe([node]);
    }

    [Fact]
    public async Task The_matrix_refuses_more_than_a_thousand_ids()
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var many = Enumerable.Range(0, 1001).Select(_ => Guid.NewGuid()).ToArray();

        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, new GetUsageMatrix.Query(many, [], null)));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, new GetUsageMatrix.Query([], many, null)));
    }

    [Fact]
    public async Task Analytics_count_attempts_failures_and_successful_install_time_with_a_thirty_day_trend()
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var extension = await ExtensionAsync("nodejs");
        var other = await ExtensionAsync("other");
        var instance = await InstanceAsync("box");
        var today = DateTime.UtcNow.Date;
        await UsageAsync(extension, instance, today.AddHours(1), durationMs: 100);
        await UsageAsync(extension, instance, today.AddHours(2), durationMs: 200);
        await UsageAsync(extension, instance, today.AddDays(-2).AddHours(3), durationMs: null);
        await UsageAsync(extension, instance, today.AddDays(-2).AddHours(4), failed: true, durationMs: 90_000);
        await UsageAsync(extension, instance, today.AddDays(-40), durationMs: 300, removedAt: today.AddDays(-39));
        await UsageAsync(other, instance, today.AddHours(1), failed: true);

        var analytics = await Fixture.SendAsAsync(viewer, new GetExtensionAnalytics.Query(extension));

        (analytics.ExtensionId, analytics.TotalInstalls, analytics.ActiveInstalls, analytics.FailedInstalls).ShouldBe((extension, 5L, 3L, 1L));
        analytics.FailureRatePct.ShouldBe(20.0);
        analytics.AvgInstallTimeMs.ShouldBe(200.0);
        analytics.InstallTrend.Count.ShouldBe(30);
        analytics.InstallTrend[^1].ShouldBe(new GetExtensionAnalytics.TrendDay(today.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture), 2, 0));
        analytics.InstallTrend[^3].ShouldBe(new GetExtensionAnalytics.TrendDay(today.AddDays(-2).ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture), 1, 1));
        analytics.InstallTrend[0].Date.ShouldBe(today.AddDays(-29).ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture));
        analytics.InstallTrend.Sum(day => day.Installs + day.Failures).ShouldBe(4);
    }

    [Fact]
    public async Task Analytics_of_an_extension_never_installed_are_zero_and_unknown_ids_are_refused()
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var extension = await ExtensionAsync("nodejs");

        var analytics = await Fixture.SendAsAsync(viewer, new GetExtensionAnalytics.Query(extension));

        (analytics.TotalInstalls, analytics.FailureRatePct, analytics.AvgInstallTimeMs).ShouldBe((0L, 0.0, (double?)null));
        analytics.InstallTrend.ShouldAllBe(day => day.Installs == 0 && day.Failures == 0);
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(viewer, new GetExtensionAnalytics.Query(Guid.CreateVersion7())));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, new GetExtensionAnalytics.Query(Guid.Empty)));
    }

    [Fact]
    public async Task Policies_list_global_then_team_then_instance_ones_and_filter()
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var alpha = await ExtensionAsync("alpha");
        var beta = await ExtensionAsync("beta");
        var instance = await InstanceAsync("box");
        var team = Guid.CreateVersion7();
        var alphaInstance = await PolicyAsync(alpha, "PIN", instance: instance, pinned: "1.0.0");
        var alphaTeam = await PolicyAsync(alpha, "FREEZE", team: team);
        var betaGlobal = await PolicyAsync(beta);
        var alphaGlobal = await PolicyAsync(alpha);

        var all = await Fixture.SendAsAsync(viewer, new ListExtensionPolicies.Query(null, null, false, null));

        all.Policies.Select(policy => policy.Id).ShouldBe([alphaGlobal, betaGlobal, alphaTeam, alphaInstance]);
        all.Policies.Select(policy => policy.Scope).ShouldBe(["global", "global", "team", "instance"]);
        all.Policies[3].Extension.ShouldBe(new PolicyExtension(alpha, "alpha", "ALPHA", "1.0.0"));
        (all.Total, all.Data.Count).ShouldBe((4, 4));
        (await Fixture.SendAsAsync(viewer, new ListExtensionPolicies.Query(beta, null, false, null))).Policies.Select(p => p.Id).ShouldBe([betaGlobal]);
        (await Fixture.SendAsAsync(viewer, new ListExtensionPolicies.Query(null, instance, false, null))).Policies.Select(p => p.Id).ShouldBe([alphaInstance]);
        (await Fixture.SendAsAsync(viewer, new ListExtensionPolicies.Query(null, null, false, team))).Policies.Select(p => p.Id).ShouldBe([alphaTeam]);
        (await Fixture.SendAsAsync(viewer, new ListExtensionPolicies.Query(alpha, null, true, null))).Policies.Select(p => p.Id).ShouldBe([alphaGlobal]);
    }

    [Fact]
    public async Task The_policy_list_refuses_empty_ids()
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, new ListExtensionPolicies.Query(Guid.Empty, null, false, null)));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, new ListExtensionPolicies.Query(null, Guid.Empty, false, null)));
    }

    [Fact]
    public async Task An_operator_deletes_a_policy_and_it_is_audited_under_its_extension()
    {
        var operatorUser = await Fixture.CreateUserAsync(BaseRole.Operator);
        var alpha = await ExtensionAsync("alpha");
        var doomed = await PolicyAsync(alpha);
        var kept = await PolicyAsync(alpha, "FREEZE", team: Guid.CreateVersion7());

        var deleted = await Fixture.SendAsAsync(operatorUser, new DeleteExtensionPolicy.Command(doomed));

        deleted.ShouldBe(new DeleteExtensionPolicy.Response(true, doomed));
        (await Fixture.QueryAsync<Guid>("SELECT id FROM fleet.extension_policies")).ShouldBe([kept]);
        (await AuditAsync(doomed)).ShouldBe([$"extension_policy.delete {operatorUser.Id} alpha"]);
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(operatorUser, new DeleteExtensionPolicy.Command(doomed)));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(operatorUser, new DeleteExtensionPolicy.Command(Guid.Empty)));
    }
}

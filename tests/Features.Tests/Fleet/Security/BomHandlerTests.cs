using Capstan.Features.Fleet.Security;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using FluentValidation;

namespace Capstan.Features.Tests.Fleet.Security;

/// <summary>The bill of materials: one instance's packages (ordered, narrowed by ecosystem, summarised) and the
/// visible fleet's totals per ecosystem.</summary>
public sealed class BomHandlerTests(FleetHandlerFixture fixture) : FleetHandlerTest(fixture)
{
    private Task PackageAsync(Guid instance, string name, string version, string ecosystem, DateTime scannedAt, string? license = null) =>
        Fixture.ExecuteAsync(
            """
            INSERT INTO fleet.bom_entries (id, instance_id, package_name, package_version, ecosystem, license, scanned_at)
            VALUES (@Id, @Instance, @Name, @Version, @Ecosystem, @License, @ScannedAt)
            """,
            new { Id = Guid.CreateVersion7(), Instance = instance, Name = name, Version = version, Ecosystem = ecosystem, License = license, ScannedAt = scannedAt });

    [Fact]
    public async Task An_instances_bill_lists_its_packages_by_ecosystem_and_name_with_a_summary()
    {
        var box = await InstanceAsync("box");
        var other = await InstanceAsync("other");
        var scanned = new DateTime(2026, 11, 20, 8, 0, 0, DateTimeKind.Utc);
        await PackageAsync(box, "requests", "2.31.0", "pypi", scanned.AddHours(-1), "Apache-2.0");
        await PackageAsync(box, "lodash", "4.17.21", "npm", scanned, "MIT");
        await PackageAsync(box, "express", "4.18.0", "npm", scanned.AddHours(-2));
        await PackageAsync(other, "left-pad", "1.0.0", "npm", scanned);
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        var bom = await Fixture.SendAsAsync(viewer, new GetBom.Query(box, null));
        var python = await Fixture.SendAsAsync(viewer, new GetBom.Query(box, " PyPI:3.12 "));

        bom.InstanceId.ShouldBe(box);
        bom.Packages.ShouldBe(
        [
            new GetBom.Package("express", "4.18.0", "npm", null, scanned.AddHours(-2)),
            new GetBom.Package("lodash", "4.17.21", "npm", "MIT", scanned),
            new GetBom.Package("requests", "2.31.0", "pypi", "Apache-2.0", scanned.AddHours(-1)),
        ]);
        var summary = bom.Summary.ShouldNotBeNull();
        (summary.Total, summary.LastScanned).ShouldBe((3L, scanned));
        summary.ByEcosystem.ShouldBe(new Dictionary<string, long> { ["npm"] = 2, ["pypi"] = 1 });
        (bom.TotalPackages, bom.ByEcosystem, bom.InstancesScanned).ShouldBe((null, null, null));
        python.Packages.ShouldNotBeNull().Select(package => package.Name).ShouldBe(["requests"]);
    }

    [Fact]
    public async Task An_instance_without_packages_has_an_empty_bill_and_an_unknown_or_hidden_one_is_not_found()
    {
        var box = await InstanceAsync("box");
        var hidden = await InstanceAsync("hidden");
        await Fixture.HideInTeamAsync(hidden);
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        var empty = await Fixture.SendAsAsync(viewer, new GetBom.Query(box, null));

        empty.Packages.ShouldNotBeNull().ShouldBeEmpty();
        empty.Summary.ShouldBe(empty.Summary! with { Total = 0, LastScanned = null });
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(viewer, new GetBom.Query(hidden, null)));
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(viewer, new GetBom.Query(Guid.CreateVersion7(), null)));
    }

    [Fact]
    public async Task The_fleet_bill_totals_packages_per_ecosystem_over_visible_instances()
    {
        var box = await InstanceAsync("box");
        var other = await InstanceAsync("other");
        var hidden = await InstanceAsync("hidden");
        await InstanceAsync("unscanned");
        await Fixture.HideInTeamAsync(hidden);
        var now = DateTime.UtcNow;
        await PackageAsync(box, "lodash", "4.17.21", "npm", now);
        await PackageAsync(box, "requests", "2.31.0", "pypi", now);
        await PackageAsync(other, "lodash", "4.17.21", "npm", now);
        await PackageAsync(other, "serde", "1.0.0", "crates.io", now);
        await PackageAsync(hidden, "secret", "1", "npm", now);
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);

        var fleet = await Fixture.SendAsAsync(viewer, new GetBom.Query(null, null));
        var npm = await Fixture.SendAsAsync(viewer, new GetBom.Query(null, "NPM"));
        var all = await Fixture.SendAsAsync(admin, new GetBom.Query(null, null));

        (fleet.TotalPackages, fleet.InstancesScanned, fleet.InstanceId, fleet.Packages, fleet.Summary).ShouldBe((4L, 2L, null, null, null));
        fleet.ByEcosystem.ShouldBe(new Dictionary<string, long> { ["crates.io"] = 1, ["npm"] = 2, ["pypi"] = 1 });
        (npm.TotalPackages, npm.InstancesScanned).ShouldBe((2L, 2L));
        npm.ByEcosystem.ShouldBe(new Dictionary<string, long> { ["npm"] = 2 });
        (all.TotalPackages, all.InstancesScanned).ShouldBe((5L, 3L));
    }

    [Fact]
    public async Task An_empty_instance_id_or_a_long_ecosystem_is_rejected()
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, new GetBom.Query(Guid.Empty, null)));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, new GetBom.Query(null, new string('e', 65))));
    }
}

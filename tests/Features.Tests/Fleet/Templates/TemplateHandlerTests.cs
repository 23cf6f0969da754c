using Capstan.Features.Fleet.Templates;
using Capstan.Features.Tests.Fleet.Alerts;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Paging;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using FluentValidation;

namespace Capstan.Features.Tests.Fleet.Templates;

/// <summary>Deployment templates through the pipeline: created from a checked configuration (official only for
/// admins), read by id or slug, listed with filters and search, and deleted.</summary>
public sealed class TemplateHandlerTests(FleetHandlerFixture fixture) : FleetHandlerTest(fixture)
{
    private const string Yaml = """
        name: dev-box
        deployment:
          provider: docker
        extensions:
          active: [nodejs, python]
          additional: [nodejs, git]
        """;

    private static CreateTemplate.Command Template(
        string slug, string category = "dev", string? description = null, string[]? extensions = null, string[]? providers = null, bool? official = null, string yaml = Yaml) =>
        new($"{slug} name", slug, category, description, yaml, extensions, providers, official);

    private Task<long> TemplateCountAsync() => Fixture.ScalarAsync<long>("SELECT count(*) FROM fleet.deployment_templates");

    [Fact]
    public async Task An_operator_creates_a_template_whose_extensions_come_from_the_configuration()
    {
        var op = await Fixture.CreateUserAsync(BaseRole.Operator);

        var template = await Fixture.SendAsAsync(op, new CreateTemplate.Command(" Dev box ", "dev-box", " dev ", null, Yaml, null, ["Docker", "fly", "docker"], true));

        (template.Name, template.Slug, template.Category, template.Description, template.IsOfficial, template.CreatedBy)
            .ShouldBe(("Dev box", "dev-box", "dev", string.Empty, false, (Guid?)op.Id));
        template.Extensions.ShouldBe(["nodejs", "python", "git"]);
        template.ProviderRecommendations.ShouldBe(["docker", "fly"]);
        template.YamlContent.ShouldBe(Yaml);
        var stored = await Fixture.QueryAsync<(string, bool, string[])>(
            "SELECT slug, is_official, extensions FROM fleet.deployment_templates WHERE id = @Id", new { template.Id });
        stored.Single().Item1.ShouldBe("dev-box");
        stored.Single().Item2.ShouldBeFalse();
        stored.Single().Item3.ShouldBe(["nodejs", "python", "git"]);
        var audit = (await Fixture.AuditAsync(template.Id.ToString())).ShouldHaveSingleItem();
        (audit.Action, audit.ActorId, audit.ResourceName).ShouldBe(("template.create", (Guid?)op.Id, "dev-box"));
    }

    [Fact]
    public async Task An_admin_may_mark_a_template_official_and_given_extensions_win()
    {
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);

        var template = await Fixture.SendAsAsync(admin, Template("official", extensions: [" rust ", "rust", "go"], official: true));

        template.IsOfficial.ShouldBeTrue();
        template.Extensions.ShouldBe(["rust", "go"]);
        (await Fixture.ScalarAsync<bool>("SELECT is_official FROM fleet.deployment_templates WHERE id = @Id", new { template.Id })).ShouldBeTrue();
    }

    [Fact]
    public async Task Invalid_templates_are_refused_by_the_validator_and_nothing_is_stored()
    {
        var op = await Fixture.CreateUserAsync(BaseRole.Operator);
        CreateTemplate.Command[] invalid =
        [
            Template("ok") with { Name = "" },
            Template("ok") with { Name = new string('n', 129) },
            Template("Not_A_Slug"),
            Template("-dash"),
            Template("ok", category: ""),
            Template("ok", description: new string('d', 1025)),
            Template("ok", yaml: ""),
            Template("ok", yaml: "name: x\n# " + new string('y', 65_536)),
            Template("ok", extensions: [""]),
            Template("ok", extensions: [.. Enumerable.Range(0, 201).Select(i => $"e{i}")]),
            Template("ok", providers: ["aws"]),
        ];

        foreach (var command in invalid)
        {
            await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(op, command));
        }

        (await TemplateCountAsync()).ShouldBe(0);
    }

    [Fact]
    public async Task A_bad_configuration_is_a_bad_request_and_a_taken_slug_a_conflict()
    {
        var op = await Fixture.CreateUserAsync(BaseRole.Operator);
        await Fixture.SendAsAsync(op, Template("taken"));

        var notMapping = await Should.ThrowAsync<BadRequestException>(() => Fixture.SendAsAsync(op, Template("list", yaml: "- a\n- b\n")));
        notMapping.Details!.Keys.ShouldBe(["yamlContent"]);
        await Should.ThrowAsync<BadRequestException>(() => Fixture.SendAsAsync(op, Template("provider", yaml: "deployment:\n  provider: mars\n")));
        await Should.ThrowAsync<BadRequestException>(() => Fixture.SendAsAsync(op, Template("reserved", yaml: "secrets:\n  - name: DATABASE_URL\n")));
        await Should.ThrowAsync<ConflictException>(() => Fixture.SendAsAsync(op, Template("taken")));

        (await TemplateCountAsync()).ShouldBe(1);
    }

    [Fact]
    public async Task A_viewer_reads_a_template_by_id_or_by_slug()
    {
        var op = await Fixture.CreateUserAsync(BaseRole.Operator);
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var template = await Fixture.SendAsAsync(op, Template("dev-box", description: "for dev"));
        await Fixture.SendAsAsync(op, Template("other"));

        var byId = await Fixture.SendAsAsync(viewer, new GetTemplate.Query(template.Id.ToString()));
        var bySlug = await Fixture.SendAsAsync(viewer, new GetTemplate.Query(" dev-box "));

        byId.ShouldBeEquivalentTo(template);
        bySlug.ShouldBeEquivalentTo(template);
        byId.Description.ShouldBe("for dev");
    }

    [Fact]
    public async Task An_unknown_template_is_not_found_and_a_missing_or_long_key_is_invalid()
    {
        var op = await Fixture.CreateUserAsync(BaseRole.Operator);
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var template = await Fixture.SendAsAsync(op, Template("dev-box"));

        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(viewer, new GetTemplate.Query("nope")));
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(viewer, new GetTemplate.Query(Guid.CreateVersion7().ToString())));
        // A string that parses as an id is only looked up as an id, never as a slug.
        await Fixture.ExecuteAsync("UPDATE fleet.deployment_templates SET slug = @Slug WHERE id = @Id", new { Slug = Guid.Empty.ToString(), template.Id });
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(viewer, new GetTemplate.Query(Guid.Empty.ToString())));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, new GetTemplate.Query("")));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, new GetTemplate.Query(new string('s', 129))));
    }

    [Fact]
    public async Task Templates_are_listed_official_first_then_newest_and_filtered()
    {
        var op = await Fixture.CreateUserAsync(BaseRole.Operator);
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var old = await Fixture.SendAsAsync(op, Template("old-web", category: "web", description: "A 100% node stack", providers: ["fly"]));
        var official = await Fixture.SendAsAsync(admin, Template("official-data", category: "data", providers: ["docker", "fly"], official: true));
        var newest = await Fixture.SendAsAsync(op, Template("new-web", category: "web", providers: ["docker"]));
        var at = DateTime.UtcNow.AddHours(-3);
        foreach (var (id, hours) in new[] { (old.Id, 0), (official.Id, 1), (newest.Id, 2) })
        {
            await Fixture.ExecuteAsync("UPDATE fleet.deployment_templates SET created_at = @At WHERE id = @Id", new { Id = id, At = at.AddHours(hours) });
        }

        async Task<List<Guid>> IdsAsync(string? category = null, bool? official = null, string? provider = null, string? search = null, int offset = 0, int size = 20) =>
            [.. (await Fixture.SendAsAsync(viewer, new ListTemplates.Query(category, official, provider, search, new PageRequest(offset, size)))).Templates.Select(template => template.Id)];

        (await IdsAsync()).ShouldBe([official.Id, newest.Id, old.Id]);
        (await IdsAsync(category: "web")).ShouldBe([newest.Id, old.Id]);
        (await IdsAsync(official: false)).ShouldBe([newest.Id, old.Id]);
        (await IdsAsync(provider: "FLY")).ShouldBe([official.Id, old.Id]);
        (await IdsAsync(search: "NEW-")).ShouldBe([newest.Id]);
        // The search is literal: % matches a percent sign, not anything.
        (await IdsAsync(search: "100%")).ShouldBe([old.Id]);
        (await IdsAsync(search: "%")).ShouldBe([old.Id]);

        var page = await Fixture.SendAsAsync(viewer, new ListTemplates.Query(null, null, null, null, new PageRequest(1, 1)));
        page.Templates.Select(template => template.Id).ShouldBe([newest.Id]);
        (page.Pagination.Total, page.Pagination.Page, page.Pagination.TotalPages, page.Pagination.HasMore).ShouldBe((3L, 2, 3, true));
    }

    [Fact]
    public async Task Listing_with_over_long_filters_is_invalid()
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var page = new PageRequest(0, 20);

        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, new ListTemplates.Query(new string('c', 65), null, null, null, page)));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, new ListTemplates.Query(null, null, new string('p', 33), null, page)));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, new ListTemplates.Query(null, null, null, new string('s', 129), page)));
    }

    [Fact]
    public async Task An_admin_deletes_a_template_and_it_is_audited()
    {
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);
        var gone = await Fixture.SendAsAsync(admin, Template("gone"));
        var kept = await Fixture.SendAsAsync(admin, Template("kept"));

        var deleted = await Fixture.SendAsAsync(admin, new DeleteTemplate.Command(gone.Id));

        deleted.ShouldBe(new DeleteTemplate.Response("Template deleted", gone.Id, "gone"));
        (await Fixture.QueryAsync<Guid>("SELECT id FROM fleet.deployment_templates")).ShouldBe([kept.Id]);
        (await Fixture.AuditAsync(gone.Id.ToString())).Select(row => (row.Action, row.ResourceName)).ShouldBe([("template.create", "gone"), ("template.delete", "gone")]);
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(admin, new DeleteTemplate.Command(gone.Id)));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(admin, new DeleteTemplate.Command(Guid.Empty)));
    }
}

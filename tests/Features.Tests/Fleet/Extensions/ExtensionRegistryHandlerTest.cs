namespace Capstan.Features.Tests.Fleet.Extensions;

/// <summary>Arrange-helpers of the extension registry's handler tests: extensions, usage records and policies written
/// straight to the fleet tables.</summary>
public abstract class ExtensionRegistryHandlerTest(FleetHandlerFixture fixture) : FleetHandlerTest(fixture)
{
    protected async Task<Guid> ExtensionAsync(
        string name, string category = "dev", long downloads = 0, bool official = false, bool deprecated = false, string scope = "PUBLIC",
        string[]? tags = null, string description = "an extension")
    {
        var id = Guid.CreateVersion7();
        await Fixture.ExecuteAsync(
            """
            INSERT INTO fleet.extensions (id, name, display_name, description, category, version, tags, scope, is_official, is_deprecated, download_count)
            VALUES (@Id, @Name, @Display, @Description, @Category, '1.0.0', @Tags, @Scope, @Official, @Deprecated, @Downloads)
            """,
            new { Id = id, Name = name, Display = name.ToUpperInvariant(), Description = description, Category = category, Tags = tags ?? [], Scope = scope, Official = official, Deprecated = deprecated, Downloads = downloads });
        return id;
    }

    protected async Task<Guid> TeamInstanceAsync(string name)
    {
        var id = await InstanceAsync(name);
        await Fixture.ExecuteAsync("UPDATE fleet.instances SET team_id = @Team WHERE id = @Id", new { Id = id, Team = Guid.CreateVersion7() });
        return id;
    }

    protected async Task<Guid> UsageAsync(
        Guid extension, Guid instance, DateTime installedAt, string version = "1.0.0", bool failed = false, DateTime? removedAt = null, long? durationMs = null)
    {
        var id = Guid.CreateVersion7();
        await Fixture.ExecuteAsync(
            """
            INSERT INTO fleet.extension_usages (id, extension_id, instance_id, version, installed_at, removed_at, install_duration_ms, failed)
            VALUES (@Id, @Extension, @Instance, @Version, @InstalledAt, @RemovedAt, @Duration, @Failed)
            """,
            new { Id = id, Extension = extension, Instance = instance, Version = version, InstalledAt = installedAt, RemovedAt = removedAt, Duration = durationMs, Failed = failed });
        return id;
    }

    protected async Task<Guid> PolicyAsync(Guid extension, string policy = "AUTO_UPDATE", Guid? instance = null, Guid? team = null, string? pinned = null)
    {
        var id = Guid.CreateVersion7();
        await Fixture.ExecuteAsync(
            "INSERT INTO fleet.extension_policies (id, extension_id, instance_id, team_id, policy, pinned_version) VALUES (@Id, @Extension, @Instance, @Team, @Policy, @Pinned)",
            new { Id = id, Extension = extension, Instance = instance, Team = team, Policy = policy, Pinned = pinned });
        return id;
    }

    /// <summary>The audit rows of one resource: <c>action actor_id resource_name</c>, oldest first.</summary>
    protected Task<List<string>> AuditAsync(Guid resource) =>
        Fixture.QueryAsync<string>(
            "SELECT action || ' ' || coalesce(actor_id::text, '-') || ' ' || coalesce(resource_name, '-') FROM identity.audit_log WHERE resource_id = @Id ORDER BY occurred_at, id",
            new { Id = resource.ToString() });
}

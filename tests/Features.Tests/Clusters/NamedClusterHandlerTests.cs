using System.Text.Json;
using System.Text.Json.Nodes;
using Capstan.Features.Clusters;
using Capstan.Infrastructure.Clusters;
using Capstan.Infrastructure.Crypto;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using Capstan.Tests.Support.Kubernetes;
using FluentValidation;
using Microsoft.Extensions.DependencyInjection;

namespace Capstan.Features.Tests.Clusters;

/// <summary>Seed 002's clusters by name: add, list, get, default, update, credentials, delete and share; the rows they
/// store (credentials sealed, never returned), the audit and connection-log rows, and the 404/403/409 paths.</summary>
public sealed class NamedClusterHandlerTests(ClustersHandlerFixture fixture, FakeKubernetesFixture fake) : ClusterSliceHandlerTest(fixture, fake)
{
    private AddCluster.Command TokenCluster(string name, string token = "token-123") => new()
    {
        Name = name,
        DisplayName = "Production EU",
        Server = Api.BaseUrl,
        AuthType = "token",
        Credentials = new CredentialsInput { Token = token },
        Labels = new Dictionary<string, string> { ["env"] = "prod" },
    };

    /// <summary>A user-scoped cluster of <paramref name="owner"/> on a fake server, with a sealed token.</summary>
    private async Task<Guid> OwnedClusterAsync(string name, TestUser owner, string server, string token = "first")
    {
        var cipher = Fixture.Services.GetRequiredService<EnvelopeCipher>();
        var id = Guid.CreateVersion7();
        await Fixture.ExecuteAsync(
            "INSERT INTO clusters.clusters (id, name, server, auth_type, credentials, scope, owner_id, status) VALUES (@Id, @Name, @Server, 'token', @Credentials, 'user', @Owner, 'connected')",
            new { Id = id, Name = name, Server = server, Credentials = new ClusterCredentials { Token = token }.Seal(cipher, id), Owner = owner.Id });
        return id;
    }

    private Task ShareAsync(Guid cluster, TestUser user, string role = "viewer") =>
        Fixture.ExecuteAsync("INSERT INTO clusters.cluster_shares (cluster_id, user_id, role) VALUES (@Cluster, @User, @Role)", new { Cluster = cluster, User = user.Id, Role = role });

    [Fact]
    public async Task Add_probes_the_cluster_and_stores_it_with_sealed_credentials()
    {
        var developer = await Fixture.CreateUserAsync(BaseRole.Developer);

        var response = await Fixture.SendAsAsync(developer, TokenCluster("prod-eu"));

        (response.Message, response.Name, response.Server, response.Status, response.Version).ShouldBe(("Cluster added successfully", "prod-eu", Api.BaseUrl, "connected", (string?)"v1.30.4"));
        response.Cluster.DisplayName.ShouldBe("Production EU");
        response.Cluster.UserId.ShouldBe(developer.Id);
        response.Cluster.Scope.ShouldBe("user");
        response.Cluster.Labels["env"]!.GetValue<string>().ShouldBe("prod");
        response.Cluster.Metadata["nodeCount"]!.GetValue<int>().ShouldBe(2);
        JsonSerializer.Serialize(response).ShouldNotContain("token-123");
        Api.Requests.ShouldContain(request => request.Path == "/version" && request.Authorization == "Bearer token-123");
        var stored = await StoredAsync("prod-eu");
        (stored.Id, stored.AuthType, stored.Scope, stored.OwnerId, stored.Status, stored.Version, stored.Server)
            .ShouldBe((response.Cluster.Id, "token", "user", (Guid?)developer.Id, "connected", (string?)"v1.30.4", Api.BaseUrl));
        JsonNode.Parse(stored.Labels)!["env"]!.GetValue<string>().ShouldBe("prod");
        JsonNode.Parse(stored.Metadata)!["region"]!.GetValue<string>().ShouldBe("eu-west-1");
        System.Text.Encoding.UTF8.GetString(stored.Credentials).ShouldNotContain("token-123");
        Open(stored).Token.ShouldBe("token-123");
        var log = (await ConnectionLogsAsync()).Single();
        (log.ClusterId, log.UserId, log.Action, log.Success).ShouldBe((stored.Id, (Guid?)developer.Id, "cluster_added", true));
        var audit = (await AuditAsync()).Single();
        (audit.Action, audit.ResourceType, audit.ResourceId, audit.ResourceName, audit.ActorId).ShouldBe(("cluster.create", "cluster", stored.Id.ToString(), "prod-eu", (Guid?)developer.Id));
        audit.Metadata.ShouldNotContain("token-123");
    }

    [Fact]
    public async Task Add_stores_an_unreachable_cluster_as_disconnected()
    {
        var developer = await Fixture.CreateUserAsync(BaseRole.Developer);
        var command = TokenCluster("gone") with { Server = $"http://127.0.0.1:{ClusterRegistrations.ClosedPort()}" };

        var response = await Fixture.SendAsAsync(developer, command);

        response.Status.ShouldBe("disconnected");
        response.Version.ShouldBeNull();
        (await StoredAsync("gone")).Status.ShouldBe("disconnected");
        var log = (await ConnectionLogsAsync()).Single();
        log.Success.ShouldBeFalse();
        log.Error.ShouldNotBeNullOrEmpty();
    }

    [Fact]
    public async Task Add_conflicts_on_a_taken_name_in_any_case()
    {
        var developer = await Fixture.CreateUserAsync(BaseRole.Developer);
        await Fixture.RegisterClusterAsync(Api, "Taken");

        (await Should.ThrowAsync<ConflictException>(() => Fixture.SendAsAsync(developer, TokenCluster("taken")))).Message.ShouldBe("A cluster named 'taken' already exists");

        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM clusters.clusters")).ShouldBe(1);
        (await ConnectionLogsAsync()).ShouldBeEmpty();
        Api.Requests.ShouldBeEmpty();
    }

    [Fact]
    public async Task Add_refuses_credentials_that_do_not_fit_the_auth_type()
    {
        var developer = await Fixture.CreateUserAsync(BaseRole.Developer);
        var withoutToken = TokenCluster("x") with { Credentials = new CredentialsInput() };
        var badCa = TokenCluster("y") with { Credentials = new CredentialsInput { Token = "t", CaData = "%%%" } };

        (await Should.ThrowAsync<BadRequestException>(() => Fixture.SendAsAsync(developer, withoutToken))).Details!.Keys.ShouldBe(["credentials"]);
        (await Should.ThrowAsync<BadRequestException>(() => Fixture.SendAsAsync(developer, badCa))).Details!.Keys.ShouldBe(["credentials"]);

        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM clusters.clusters")).ShouldBe(0);
    }

    public static TheoryData<string> InvalidAdds => new() { "empty name", "reserved name", "bad name", "no auth type", "unknown auth type", "no server", "ftp server", "long display name", "many labels" };

    [Theory]
    [MemberData(nameof(InvalidAdds))]
    public async Task Add_validates_each_field(string rule)
    {
        var developer = await Fixture.CreateUserAsync(BaseRole.Developer);
        var valid = TokenCluster("valid");
        var command = rule switch
        {
            "empty name" => valid with { Name = " " },
            "reserved name" => valid with { Name = "Default" },
            "bad name" => valid with { Name = "-prod" },
            "no auth type" => valid with { AuthType = null },
            "unknown auth type" => valid with { AuthType = "magic" },
            "no server" => valid with { Server = null },
            "ftp server" => valid with { Server = "ftp://k" },
            "long display name" => valid with { DisplayName = new string('d', 201) },
            _ => valid with { Labels = Enumerable.Range(0, 51).ToDictionary(index => $"k{index}", index => "v") },
        };

        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(developer, command));

        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM clusters.clusters")).ShouldBe(0);
        Api.Requests.ShouldBeEmpty();
    }

    [Fact]
    public async Task List_shows_visible_clusters_oldest_first_and_the_default_id()
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var other = await Fixture.CreateUserAsync(BaseRole.Developer);
        var platform = await Fixture.RegisterClusterAsync(Api, "platform");
        var mine = await Fixture.RegisterClusterAsync(Api, "mine", viewer.Id, scope: "user", isDefaultFor: true);
        await Fixture.RegisterClusterAsync(Api, "theirs", other.Id, scope: "user");
        var shared = await Fixture.RegisterClusterAsync(Api, "shared", other.Id, scope: "user");
        await ShareAsync(shared, viewer);

        var response = await Fixture.SendAsAsync(viewer, new ListOwnClusters.Query());

        response.Clusters.Select(cluster => cluster.Name).ShouldBe(["platform", "mine", "shared"]);
        response.Total.ShouldBe(3);
        response.Default.ShouldBe(mine.ToString());
        response.Clusters.Single(cluster => cluster.Name == "shared").SharedWith.ShouldBeEmpty("only the owner sees whom it is shared with");
        response.Clusters.Single(cluster => cluster.Id == platform).Default.ShouldBeFalse();
        JsonSerializer.Serialize(response).ShouldNotContain("credentials", Case.Insensitive);
    }

    [Fact]
    public async Task Get_finds_a_visible_cluster_by_name_in_any_case_or_by_id()
    {
        var owner = await Fixture.CreateUserAsync(BaseRole.Developer);
        var stranger = await Fixture.CreateUserAsync(BaseRole.Developer);
        var id = await Fixture.RegisterClusterAsync(Api, "owned", owner.Id, scope: "user");
        var target = await Fixture.CreateUserAsync(BaseRole.Viewer);
        await ShareAsync(id, target);

        var byName = await Fixture.SendAsAsync(owner, new GetCluster.Query("OWNED"));
        var byId = await Fixture.SendAsAsync(owner, new GetCluster.Query(id.ToString()));

        byName.Id.ShouldBe(id);
        byName.SharedWith.ShouldBe([target.Id]);
        byId.Name.ShouldBe("owned");
        byId.Server.ShouldBe(Api.BaseUrl);
        (await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(stranger, new GetCluster.Query("owned")))).Message.ShouldBe("Cluster not found");
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(owner, new GetCluster.Query(string.Empty)));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(owner, new GetCluster.Query(new string('n', 101))));
    }

    [Fact]
    public async Task Default_is_not_found_until_set_and_setting_it_again_replaces_it()
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var first = await Fixture.RegisterClusterAsync(Api, "first");
        var second = await Fixture.RegisterClusterAsync(Api, "second");

        (await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(viewer, new GetDefaultCluster.Query()))).Message.ShouldBe("No default cluster set");
        var set = await Fixture.SendAsAsync(viewer, new SetDefaultCluster.Command("first"));
        await Fixture.SendAsAsync(viewer, new SetDefaultCluster.Command("SECOND"));
        var current = await Fixture.SendAsAsync(viewer, new GetDefaultCluster.Query());

        set.Message.ShouldBe("Default cluster set successfully");
        set.Cluster.Id.ShouldBe(first);
        set.Cluster.Default.ShouldBeTrue();
        current.Id.ShouldBe(second);
        current.Default.ShouldBeTrue();
        (await Fixture.QueryAsync<(Guid UserId, Guid ClusterId)>("SELECT user_id, cluster_id FROM clusters.user_defaults")).ShouldBe([(viewer.Id, second)]);
        (await AuditAsync()).Select(row => (row.Action, row.ResourceId)).ShouldBe([("cluster.set_default", first.ToString()), ("cluster.set_default", second.ToString())]);
    }

    [Fact]
    public async Task Another_users_cluster_cannot_be_the_default_and_the_name_is_validated()
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var other = await Fixture.CreateUserAsync(BaseRole.Developer);
        await Fixture.RegisterClusterAsync(Api, "theirs", other.Id, scope: "user");

        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(viewer, new SetDefaultCluster.Command("theirs")));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, new SetDefaultCluster.Command(string.Empty)));

        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM clusters.user_defaults")).ShouldBe(0);
    }

    [Fact]
    public async Task Update_of_descriptive_fields_keeps_the_connection_and_calls_nothing()
    {
        var owner = await Fixture.CreateUserAsync(BaseRole.Developer);
        await OwnedClusterAsync("edited", owner, Api.BaseUrl);
        var before = await StoredAsync("edited");

        var response = await Fixture.SendAsAsync(owner, new UpdateCluster.Command { Name = "edited", DisplayName = " Edited ", Description = "the new one", Labels = new() { ["tier"] = "gold" } });

        response.Message.ShouldBe("Cluster updated successfully");
        response.Cluster.DisplayName.ShouldBe("Edited");
        var stored = await StoredAsync("edited");
        (stored.DisplayName, stored.Description, stored.CredentialsVersion, stored.Status).ShouldBe(("Edited", "the new one", 1L, "connected"));
        JsonNode.Parse(stored.Labels)!.ToJsonString().ShouldBe("""{"tier":"gold"}""");
        stored.Credentials.ShouldBe(before.Credentials);
        Api.Requests.ShouldBeEmpty();
        var audit = (await AuditAsync()).Single();
        audit.Action.ShouldBe("cluster.update");
        JsonNode.Parse(audit.Metadata)!["connection_changed"]!.GetValue<bool>().ShouldBeFalse();
    }

    [Fact]
    public async Task Update_with_new_credentials_probes_them_and_seals_the_accepted_ones()
    {
        await using var secured = await FakeKubernetesApi.StartAsync(new FakeKubernetesOptions { Token = "right", SeedFixtures = false });
        var owner = await Fixture.CreateUserAsync(BaseRole.Developer);
        await OwnedClusterAsync("secured", owner, secured.BaseUrl, token: "first");
        var before = await StoredAsync("secured");

        (await Should.ThrowAsync<BadRequestException>(() => Fixture.SendAsAsync(owner, new UpdateCluster.Command { Name = "secured", Credentials = new CredentialsInput { Token = "wrong" } }))).Message
            .ShouldContain("nothing was changed");
        (await StoredAsync("secured")).Credentials.ShouldBe(before.Credentials);
        var response = await Fixture.SendAsAsync(owner, new UpdateCluster.Command { Name = "secured", Credentials = new CredentialsInput { Token = "right" } });

        JsonSerializer.Serialize(response).ShouldNotContain("\"right\"");
        var stored = await StoredAsync("secured");
        stored.CredentialsVersion.ShouldBe(2);
        Open(stored).Token.ShouldBe("right");
        secured.Requests.ShouldContain(request => request.Authorization == "Bearer right");
        JsonNode.Parse((await AuditAsync()).Single().Metadata)!["connection_changed"]!.GetValue<bool>().ShouldBeTrue();
    }

    [Fact]
    public async Task Update_is_the_owners_and_hidden_from_strangers()
    {
        var owner = await Fixture.CreateUserAsync(BaseRole.Developer);
        var sharedWith = await Fixture.CreateUserAsync(BaseRole.Developer);
        var stranger = await Fixture.CreateUserAsync(BaseRole.Developer);
        var id = await OwnedClusterAsync("guarded", owner, Api.BaseUrl);
        await ShareAsync(id, sharedWith, "admin");

        (await Should.ThrowAsync<ForbiddenException>(() => Fixture.SendAsAsync(sharedWith, new UpdateCluster.Command { Name = "guarded", Description = "mine now" }))).Message
            .ShouldBe("Only the cluster's owner can change it");
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(stranger, new UpdateCluster.Command { Name = "guarded", Description = "mine now" }));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(owner, new UpdateCluster.Command { Name = "guarded", Server = "ftp://k" }));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(owner, new UpdateCluster.Command { Name = "guarded", AuthType = "magic" }));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(owner, new UpdateCluster.Command { Name = "guarded", Description = new string('d', 1001) }));

        (await StoredAsync("guarded")).Description.ShouldBe(string.Empty);
        (await AuditAsync()).ShouldBeEmpty();
    }

    [Fact]
    public async Task Credentials_are_replaced_only_when_the_cluster_accepts_them()
    {
        await using var secured = await FakeKubernetesApi.StartAsync(new FakeKubernetesOptions { Token = "second", SeedFixtures = false });
        var owner = await Fixture.CreateUserAsync(BaseRole.Developer);
        var id = await OwnedClusterAsync("rotating", owner, secured.BaseUrl);

        await Should.ThrowAsync<BadRequestException>(() => Fixture.SendAsAsync(owner, new UpdateClusterCredentials.Command { Name = "rotating", Credentials = new CredentialsInput { Token = "nope" } }));
        (await StoredAsync("rotating")).CredentialsVersion.ShouldBe(1);
        (await ConnectionLogsAsync()).ShouldBeEmpty();
        var response = await Fixture.SendAsAsync(owner, new UpdateClusterCredentials.Command { Name = "rotating", Credentials = new CredentialsInput { Token = "second" } });

        response.Message.ShouldBe("Credentials updated successfully");
        response.Cluster.Id.ShouldBe(id);
        JsonSerializer.Serialize(response).ShouldNotContain("\"second\"");
        var stored = await StoredAsync("rotating");
        (stored.CredentialsVersion, stored.Status).ShouldBe((2L, "connected"));
        System.Text.Encoding.UTF8.GetString(stored.Credentials).ShouldNotContain("second");
        Open(stored).Token.ShouldBe("second");
        (await ConnectionLogsAsync()).Select(log => (log.Action, log.Success, log.UserId)).ShouldBe([("credentials_updated", true, (Guid?)owner.Id)]);
        (await AuditAsync()).Single().Action.ShouldBe("cluster.credentials.update");
    }

    [Fact]
    public async Task Credentials_need_a_body_the_owner_and_a_reachable_cluster()
    {
        var owner = await Fixture.CreateUserAsync(BaseRole.Developer);
        var sharedWith = await Fixture.CreateUserAsync(BaseRole.Developer);
        var stranger = await Fixture.CreateUserAsync(BaseRole.Developer);
        var id = await OwnedClusterAsync("rotating", owner, Api.BaseUrl);
        await ShareAsync(id, sharedWith);
        await OwnedClusterAsync("gone", owner, $"http://127.0.0.1:{ClusterRegistrations.ClosedPort()}");
        var credentials = new CredentialsInput { Token = "t" };

        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(owner, new UpdateClusterCredentials.Command { Name = "rotating" }));
        await Should.ThrowAsync<ForbiddenException>(() => Fixture.SendAsAsync(sharedWith, new UpdateClusterCredentials.Command { Name = "rotating", Credentials = credentials }));
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(stranger, new UpdateClusterCredentials.Command { Name = "rotating", Credentials = credentials }));
        (await Should.ThrowAsync<ServiceUnavailableException>(() => Fixture.SendAsAsync(owner, new UpdateClusterCredentials.Command { Name = "gone", Credentials = credentials }))).Message
            .ShouldStartWith("Cluster 'gone' is unreachable with the new credentials; nothing was changed");

        (await Fixture.QueryAsync<long>("SELECT credentials_version FROM clusters.clusters")).ShouldBe([1L, 1L]);
    }

    [Fact]
    public async Task Delete_removes_the_cluster_and_its_flux_bindings()
    {
        var owner = await Fixture.CreateUserAsync(BaseRole.Developer);
        var id = await OwnedClusterAsync("doomed", owner, Api.BaseUrl);
        var kept = await OwnedClusterAsync("kept", owner, Api.BaseUrl);
        await Fixture.ExecuteAsync(
            "INSERT INTO identity.flux_bindings (id, user_id, policy_id, cluster) VALUES (gen_random_uuid(), @User, '00000000-0000-0000-0000-000000000001', @Doomed), (gen_random_uuid(), @User, '00000000-0000-0000-0000-000000000001', @Kept)",
            new { User = owner.Id, Doomed = id.ToString(), Kept = kept.ToString() });

        var response = await Fixture.SendAsAsync(owner, new DeleteCluster.Command("doomed"));

        response.ShouldBe(new DeleteCluster.Response("Cluster removed successfully", "doomed"));
        (await Fixture.QueryAsync<string>("SELECT name FROM clusters.clusters")).ShouldBe(["kept"]);
        (await Fixture.QueryAsync<string>("SELECT cluster FROM identity.flux_bindings")).ShouldBe([kept.ToString()]);
        var audit = (await AuditAsync()).Single();
        (audit.Action, audit.ResourceId, audit.ResourceName, audit.ActorId).ShouldBe(("cluster.delete", id.ToString(), "doomed", (Guid?)owner.Id));
    }

    [Fact]
    public async Task Delete_is_the_owners_and_hidden_from_strangers()
    {
        var owner = await Fixture.CreateUserAsync(BaseRole.Developer);
        var sharedWith = await Fixture.CreateUserAsync(BaseRole.Developer);
        var stranger = await Fixture.CreateUserAsync(BaseRole.Developer);
        var id = await OwnedClusterAsync("guarded", owner, Api.BaseUrl);
        await ShareAsync(id, sharedWith, "admin");

        (await Should.ThrowAsync<ForbiddenException>(() => Fixture.SendAsAsync(sharedWith, new DeleteCluster.Command("guarded")))).Message.ShouldBe("Only the cluster's owner can remove it");
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(stranger, new DeleteCluster.Command("guarded")));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(owner, new DeleteCluster.Command(" ")));

        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM clusters.clusters")).ShouldBe(1);
    }

    [Fact]
    public async Task Share_grants_the_target_then_updates_the_grant()
    {
        var owner = await Fixture.CreateUserAsync(BaseRole.Developer);
        var target = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var id = await OwnedClusterAsync("team", owner, Api.BaseUrl);

        var first = await Fixture.SendAsAsync(owner, new ShareCluster.Command { Name = "team", TargetUserId = target.Id.ToString(), Role = "Viewer", Namespaces = [" apps ", "apps", "web"] });
        var second = await Fixture.SendAsAsync(owner, new ShareCluster.Command { Name = "team", TargetUserIdSnake = target.Id.ToString(), Role = "editor" });

        first.Message.ShouldBe("Cluster shared successfully");
        first.Cluster.SharedWith.ShouldBe([target.Id]);
        second.Cluster.SharedWith.ShouldBe([target.Id]);
        var share = (await Fixture.QueryAsync<(Guid ClusterId, Guid UserId, string Role, string[] Namespaces, Guid GrantedBy)>(
            "SELECT cluster_id, user_id, role, namespaces, granted_by FROM clusters.cluster_shares")).Single();
        (share.ClusterId, share.UserId, share.Role, share.GrantedBy).ShouldBe((id, target.Id, "editor", owner.Id));
        share.Namespaces.ShouldBeEmpty("the second grant named no namespaces");
        (await ConnectionLogsAsync()).Select(log => (log.Action, JsonNode.Parse(log.Details)!["role"]!.GetValue<string>())).ShouldBe([("access_granted", "viewer"), ("access_granted", "editor")]);
        (await AuditAsync()).Select(row => (row.Action, row.ResourceId)).ShouldBe([("cluster.share", id.ToString()), ("cluster.share", id.ToString())]);
        (await Fixture.SendAsAsync(target, new GetCluster.Query("team"))).Id.ShouldBe(id);
    }

    [Fact]
    public async Task Share_trims_and_deduplicates_namespaces()
    {
        var owner = await Fixture.CreateUserAsync(BaseRole.Developer);
        var target = await Fixture.CreateUserAsync(BaseRole.Viewer);
        await OwnedClusterAsync("team", owner, Api.BaseUrl);

        await Fixture.SendAsAsync(owner, new ShareCluster.Command { Name = "team", TargetUserId = target.Id.ToString(), Role = "admin", Namespaces = [" apps ", "apps", "web"] });

        (await Fixture.ScalarAsync<string[]>("SELECT namespaces FROM clusters.cluster_shares")).ShouldBe(["apps", "web"]);
    }

    [Fact]
    public async Task Share_refuses_the_owner_an_unknown_or_inactive_target_and_non_owners()
    {
        var owner = await Fixture.CreateUserAsync(BaseRole.Developer);
        var sharedWith = await Fixture.CreateUserAsync(BaseRole.Developer);
        var inactive = await Fixture.CreateUserAsync(BaseRole.Viewer, active: false);
        var target = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var id = await OwnedClusterAsync("team", owner, Api.BaseUrl);
        await ShareAsync(id, sharedWith, "admin");
        ShareCluster.Command To(Guid user) => new() { Name = "team", TargetUserId = user.ToString(), Role = "viewer" };

        (await Should.ThrowAsync<BadRequestException>(() => Fixture.SendAsAsync(owner, To(owner.Id)))).Message.ShouldBe("The cluster already belongs to this user");
        (await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(owner, To(Guid.CreateVersion7())))).Message.ShouldBe("User not found");
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(owner, To(inactive.Id)));
        (await Should.ThrowAsync<ForbiddenException>(() => Fixture.SendAsAsync(sharedWith, To(target.Id)))).Message.ShouldBe("Only the cluster's owner can share it");
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(target, To(target.Id)));

        (await Fixture.QueryAsync<Guid>("SELECT user_id FROM clusters.cluster_shares")).ShouldBe([sharedWith.Id]);
        (await ConnectionLogsAsync()).ShouldBeEmpty();
    }

    [Theory]
    [InlineData(null, "viewer")]
    [InlineData("not-a-guid", "viewer")]
    [InlineData("0190a0a0-0000-7000-8000-000000000000", "god")]
    [InlineData("0190a0a0-0000-7000-8000-000000000000", null)]
    public async Task Share_validates_target_and_role(string? target, string? role)
    {
        var owner = await Fixture.CreateUserAsync(BaseRole.Developer);
        await OwnedClusterAsync("team", owner, Api.BaseUrl);

        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(owner, new ShareCluster.Command { Name = "team", TargetUserId = target, Role = role }));

        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM clusters.cluster_shares")).ShouldBe(0);
    }

    [Fact]
    public async Task Share_validates_the_namespaces()
    {
        var owner = await Fixture.CreateUserAsync(BaseRole.Developer);
        var target = await Fixture.CreateUserAsync(BaseRole.Viewer);
        await OwnedClusterAsync("team", owner, Api.BaseUrl);

        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(owner, new ShareCluster.Command { Name = "team", TargetUserId = target.Id.ToString(), Role = "viewer", Namespaces = [.. Enumerable.Range(0, 101).Select(index => $"ns{index}")] }));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(owner, new ShareCluster.Command { Name = "team", TargetUserId = target.Id.ToString(), Role = "viewer", Namespaces = [" "] }));

        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM clusters.cluster_shares")).ShouldBe(0);
    }
}

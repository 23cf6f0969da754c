using System.Text;
using Capstan.Features.Delivery.Registries;
using Capstan.Infrastructure.Crypto;
using Capstan.Infrastructure.Delivery;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using FluentValidation;
using Microsoft.Extensions.DependencyInjection;

namespace Capstan.Features.Tests.Delivery.Registries;

/// <summary>The container registry slices through the real pipeline: create (sealed credentials, one default per type),
/// list, get, update, set default, delete, lookup by image, and the <c>/v2/</c> connection test against a local
/// stand-in registry.</summary>
[Collection(DeliveryHandlerCollection.Name)]
public sealed class RegistryHandlerTests(DeliveryHandlerFixture fixture) : HandlerTest<DeliveryHandlerFixture>(fixture)
{
    private static readonly RegistryCredentials Login = new() { Username = "robot", Password = "hunter2-secret" };

    private async Task<RegistryView> CreateAsync(TestUser admin, string name, string type = ContainerRegistries.DockerHub, string? url = null, RegistryCredentials? credentials = null, bool? isDefault = null) =>
        (await Fixture.SendAsAsync(admin, new CreateRegistry.Command(name, type, url, credentials ?? Login, isDefault))).Registry;

    private Task<long> RegistryCountAsync() => Fixture.ScalarAsync<long>("SELECT count(*) FROM delivery.registries");

    private Task<bool> IsDefaultAsync(Guid id) => Fixture.ScalarAsync<bool>("SELECT is_default FROM delivery.registries WHERE id = @Id", new { Id = id });

    [Fact]
    public async Task Create_stores_the_registry_with_its_credentials_sealed_and_audits()
    {
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);

        var created = await Fixture.SendAsAsync(admin, new CreateRegistry.Command("Docker Hub", ContainerRegistries.DockerHub, null, Login, null));

        created.Message.ShouldBe("Registry created successfully");
        created.Registry.Name.ShouldBe("Docker Hub");
        created.Registry.RegistryType.ShouldBe("dockerhub");
        created.Registry.RegistryUrl.ShouldBe(string.Empty);
        created.Registry.PreviewUrl.ShouldBe("docker.io/robot");
        created.Registry.Status.ShouldBe("unknown");
        created.Registry.IsDefault.ShouldBeFalse();
        created.Registry.LastCheck.ShouldBeNull();
        var sealedCredentials = (await Fixture.ScalarAsync<byte[]>("SELECT credentials FROM delivery.registries WHERE id = @Id", new { created.Registry.Id }))!;
        Encoding.UTF8.GetString(sealedCredentials).ShouldNotContain("hunter2-secret");
        var opened = RegistryCredentials.Open(Fixture.Services.GetRequiredService<EnvelopeCipher>(), created.Registry.Id, sealedCredentials);
        opened.Username.ShouldBe("robot");
        opened.Password.ShouldBe("hunter2-secret");
        (await Fixture.ScalarAsync<Guid>("SELECT created_by FROM delivery.registries WHERE id = @Id", new { created.Registry.Id })).ShouldBe(admin.Id);
        var audit = (await Fixture.QueryAsync<(Guid ActorId, string ResourceName, string Metadata)>(
            "SELECT actor_id, resource_name, metadata::text FROM identity.audit_log WHERE action = 'delivery.registry.create' AND resource_id = @Id",
            new { Id = created.Registry.Id.ToString() })).Single();
        audit.ActorId.ShouldBe(admin.Id);
        audit.ResourceName.ShouldBe("Docker Hub");
        audit.Metadata.ShouldNotContain("hunter2-secret");
    }

    [Fact]
    public async Task A_new_default_replaces_the_previous_default_of_its_type_only()
    {
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);
        var first = await CreateAsync(admin, "hub-one", isDefault: true);
        var ghcr = await CreateAsync(admin, "ghcr", ContainerRegistries.Ghcr, isDefault: true);

        var second = await CreateAsync(admin, "hub-two", isDefault: true);

        second.IsDefault.ShouldBeTrue();
        (await IsDefaultAsync(first.Id)).ShouldBeFalse();
        (await IsDefaultAsync(ghcr.Id)).ShouldBeTrue("a default of another type stays");
        ghcr.PreviewUrl.ShouldBe("ghcr.io/robot");
    }

    [Theory]
    [InlineData("", "dockerhub", null, "name")]
    [InlineData("-leading-dash", "dockerhub", null, "name")]
    [InlineData("hub", "quay", null, "registryType")]
    [InlineData("hub", null, null, "registryType")]
    [InlineData("hub", "custom", "http://bad host", "registryUrl")]
    public async Task Create_validates_name_type_and_url_and_stores_nothing(string name, string? type, string? url, string field)
    {
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);

        var failure = await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(admin, new CreateRegistry.Command(name, type, url, Login, null)));

        failure.Errors.Select(error => error.PropertyName).ShouldContain(field);
        (await RegistryCountAsync()).ShouldBe(0);
    }

    [Fact]
    public async Task Create_requires_credentials_and_the_fields_each_type_needs()
    {
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);

        (await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(admin, new CreateRegistry.Command("hub", "dockerhub", null, null, null))))
            .Errors.Select(error => error.PropertyName).ShouldContain("credentials");
        (await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(admin, new CreateRegistry.Command("hub", "dockerhub", null, new RegistryCredentials { Username = "u" }, null))))
            .Errors.Select(error => error.PropertyName).ShouldBe(["credentials.password"]);
        (await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(admin, new CreateRegistry.Command("ecr", "ecr", null, new RegistryCredentials { AccessKeyId = "a", SecretAccessKey = "s" }, null))))
            .Errors.Select(error => error.PropertyName).ShouldBe(["credentials.region", "registryUrl"], ignoreOrder: true);
        (await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(admin, new CreateRegistry.Command("acr", "acr", "me.azurecr.io", new RegistryCredentials { ClientId = "id" }, null))))
            .Errors.Select(error => error.PropertyName).ShouldBe(["credentials.clientSecret"]);
        (await RegistryCountAsync()).ShouldBe(0);
    }

    [Fact]
    public async Task A_taken_name_in_any_case_is_a_conflict()
    {
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);
        await CreateAsync(admin, "Hub");

        (await Should.ThrowAsync<ConflictException>(() => CreateAsync(admin, "hub", ContainerRegistries.Ghcr))).Message.ShouldBe("A registry named 'hub' already exists");
        (await RegistryCountAsync()).ShouldBe(1);
    }

    [Fact]
    public async Task List_orders_by_type_then_name_ignoring_case_filters_by_type_and_validates_it()
    {
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        await CreateAsync(admin, "zeta", ContainerRegistries.Ghcr);
        await CreateAsync(admin, "beta");
        await CreateAsync(admin, "Alpha");
        await CreateAsync(admin, "own", ContainerRegistries.Custom, "registry.example.com:5000");

        var all = await Fixture.SendAsAsync(viewer, new ListRegistries.Query(null));
        var hub = await Fixture.SendAsAsync(viewer, new ListRegistries.Query(ContainerRegistries.DockerHub));
        var acr = await Fixture.SendAsAsync(viewer, new ListRegistries.Query(ContainerRegistries.Acr));

        all.Registries.Select(registry => registry.Name).ShouldBe(["own", "Alpha", "beta", "zeta"]);
        all.Registries[0].PreviewUrl.ShouldBe("registry.example.com:5000");
        hub.Registries.Select(registry => registry.Name).ShouldBe(["Alpha", "beta"]);
        acr.Registries.ShouldBeEmpty();
        (await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, new ListRegistries.Query("quay"))))
            .Errors.Select(error => error.PropertyName).ShouldContain("type");
    }

    [Fact]
    public async Task Get_returns_one_registry_and_404s_an_unknown_id()
    {
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var created = await CreateAsync(admin, "own", ContainerRegistries.Custom, "https://registry.example.com/v2");

        var registry = await Fixture.SendAsAsync(viewer, new GetRegistry.Query(created.Id));

        registry.Id.ShouldBe(created.Id);
        registry.Name.ShouldBe("own");
        registry.RegistryType.ShouldBe("custom");
        registry.RegistryUrl.ShouldBe("https://registry.example.com/v2");
        registry.PreviewUrl.ShouldBe("registry.example.com");
        (await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(viewer, new GetRegistry.Query(Guid.CreateVersion7())))).Message.ShouldBe("Registry not found");
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, new GetRegistry.Query(Guid.Empty)));
    }

    [Fact]
    public async Task Update_renames_without_resetting_the_status_and_a_new_url_or_login_resets_it()
    {
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);
        var created = await CreateAsync(admin, "own", ContainerRegistries.Custom, "registry.example.com");
        await Fixture.ExecuteAsync("UPDATE delivery.registries SET status = 'failed', last_error = 'boom', last_check = now()");

        var renamed = await Fixture.SendAsAsync(admin, new UpdateRegistry.Command(created.Id, "renamed", null, null));
        var moved = await Fixture.SendAsAsync(admin, new UpdateRegistry.Command(created.Id, null, "other.example.com:5000", null));

        renamed.Message.ShouldBe("Registry updated successfully");
        renamed.Registry.Name.ShouldBe("renamed");
        renamed.Registry.Status.ShouldBe("failed", "a new name is not a new connection");
        renamed.Registry.LastError.ShouldBe("boom");
        moved.Registry.RegistryUrl.ShouldBe("other.example.com:5000");
        moved.Registry.PreviewUrl.ShouldBe("other.example.com:5000");
        moved.Registry.Status.ShouldBe("unknown");
        moved.Registry.LastError.ShouldBeNull();
        (await Fixture.ScalarAsync<string>("SELECT name FROM delivery.registries WHERE id = @Id", new { created.Id })).ShouldBe("renamed");
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM identity.audit_log WHERE action = 'delivery.registry.update' AND resource_id = @Id", new { Id = created.Id.ToString() })).ShouldBe(2);
    }

    [Fact]
    public async Task Update_replaces_the_credentials_whole_and_checks_them_for_the_type()
    {
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);
        var created = await CreateAsync(admin, "own", ContainerRegistries.Custom, "registry.example.com");
        await Fixture.ExecuteAsync("UPDATE delivery.registries SET status = 'connected'");

        var replaced = await Fixture.SendAsAsync(admin, new UpdateRegistry.Command(created.Id, null, null, new RegistryCredentials { Username = "new-robot", Password = "new-pass" }));
        var missing = await Should.ThrowAsync<BadRequestException>(() => Fixture.SendAsAsync(admin, new UpdateRegistry.Command(created.Id, null, null, new RegistryCredentials { Username = "x" })));

        replaced.Registry.Status.ShouldBe("unknown");
        var cipher = Fixture.Services.GetRequiredService<EnvelopeCipher>();
        var stored = RegistryCredentials.Open(cipher, created.Id, (await Fixture.ScalarAsync<byte[]>("SELECT credentials FROM delivery.registries WHERE id = @Id", new { created.Id }))!);
        stored.Username.ShouldBe("new-robot");
        stored.Password.ShouldBe("new-pass");
        missing.Message.ShouldBe("password is required for a custom registry");
        missing.Details!.Keys.ShouldBe(["credentials.password"]);
        (await Should.ThrowAsync<BadRequestException>(() => Fixture.SendAsAsync(admin, new UpdateRegistry.Command(created.Id, null, " ", null))))
            .Details!.Keys.ShouldBe(["registryUrl"], "a custom registry cannot lose its URL");
        RegistryCredentials.Open(cipher, created.Id, (await Fixture.ScalarAsync<byte[]>("SELECT credentials FROM delivery.registries WHERE id = @Id", new { created.Id }))!)
            .Username.ShouldBe("new-robot", "a refused update changes nothing");
    }

    [Fact]
    public async Task Update_refuses_an_empty_body_a_bad_name_a_taken_name_and_an_unknown_id()
    {
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);
        var one = await CreateAsync(admin, "one");
        await CreateAsync(admin, "Two");

        (await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(admin, new UpdateRegistry.Command(one.Id, null, null, null))))
            .Errors.Single().ErrorMessage.ShouldBe("No updates provided");
        (await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(admin, new UpdateRegistry.Command(one.Id, "bad/name", null, null))))
            .Errors.Select(error => error.PropertyName).ShouldContain("name");
        (await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(admin, new UpdateRegistry.Command(Guid.Empty, "x", null, null))))
            .Errors.Select(error => error.PropertyName).ShouldContain("id");
        (await Should.ThrowAsync<ConflictException>(() => Fixture.SendAsAsync(admin, new UpdateRegistry.Command(one.Id, "two", null, null)))).Message.ShouldBe("A registry named 'two' already exists");
        (await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(admin, new UpdateRegistry.Command(Guid.CreateVersion7(), "x", null, null)))).Message.ShouldBe("Registry not found");
        (await Fixture.SendAsAsync(admin, new UpdateRegistry.Command(one.Id, "ONE", null, null))).Registry.Name.ShouldBe("ONE", "its own name in another case is not taken");
    }

    [Fact]
    public async Task Set_default_moves_the_default_within_the_type_only()
    {
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);
        var first = await CreateAsync(admin, "hub-one", isDefault: true);
        var second = await CreateAsync(admin, "hub-two");
        var ghcr = await CreateAsync(admin, "ghcr", ContainerRegistries.Ghcr, isDefault: true);

        var response = await Fixture.SendAsAsync(admin, new SetDefaultRegistry.Command(second.Id));

        response.Message.ShouldBe("Registry set as default successfully");
        response.Registry.Id.ShouldBe(second.Id);
        response.Registry.IsDefault.ShouldBeTrue();
        (await IsDefaultAsync(first.Id)).ShouldBeFalse();
        (await IsDefaultAsync(ghcr.Id)).ShouldBeTrue();
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM identity.audit_log WHERE action = 'delivery.registry.default' AND resource_id = @Id", new { Id = second.Id.ToString() })).ShouldBe(1);
        (await Fixture.SendAsAsync(admin, new SetDefaultRegistry.Command(second.Id))).Registry.IsDefault.ShouldBeTrue("setting the default again keeps it");
        (await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(admin, new SetDefaultRegistry.Command(Guid.CreateVersion7())))).Message.ShouldBe("Registry not found");
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(admin, new SetDefaultRegistry.Command(Guid.Empty)));
        (await IsDefaultAsync(second.Id)).ShouldBeTrue();
    }

    [Fact]
    public async Task Delete_removes_the_registry_once_and_audits_it()
    {
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);
        var doomed = await CreateAsync(admin, "doomed");
        var kept = await CreateAsync(admin, "kept");

        var deleted = await Fixture.SendAsAsync(admin, new DeleteRegistry.Command(doomed.Id));

        deleted.Message.ShouldBe("Registry deleted successfully");
        (await Fixture.QueryAsync<Guid>("SELECT id FROM delivery.registries")).ShouldBe([kept.Id]);
        (await Fixture.ScalarAsync<string>("SELECT resource_name FROM identity.audit_log WHERE action = 'delivery.registry.delete' AND resource_id = @Id", new { Id = doomed.Id.ToString() }))
            .ShouldBe("doomed");
        (await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(admin, new DeleteRegistry.Command(doomed.Id)))).Message.ShouldBe("Registry not found");
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(admin, new DeleteRegistry.Command(Guid.Empty)));
        (await RegistryCountAsync()).ShouldBe(1);
    }

    [Fact]
    public async Task Lookup_picks_the_registry_naming_the_host_then_the_default_then_the_oldest_of_the_images_type()
    {
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var oldest = await CreateAsync(admin, "hub-old");
        var newer = await CreateAsync(admin, "hub-new");
        var own = await CreateAsync(admin, "own", ContainerRegistries.Custom, "https://registry.example.com:5000");
        await CreateAsync(admin, "other-own", ContainerRegistries.Custom, "https://elsewhere.example.com");

        var byAge = await Fixture.SendAsAsync(viewer, new LookupRegistry.Query("nginx:1.25"));
        await Fixture.SendAsAsync(admin, new SetDefaultRegistry.Command(newer.Id));
        var byDefault = await Fixture.SendAsAsync(viewer, new LookupRegistry.Query("library/nginx"));
        var byHost = await Fixture.SendAsAsync(viewer, new LookupRegistry.Query("registry.example.com:5000/team/api:2"));
        var missing = await Fixture.SendAsAsync(viewer, new LookupRegistry.Query("ghcr.io/acme/web:1"));

        byAge.Found.ShouldBeTrue();
        byAge.RegistryType.ShouldBe("dockerhub");
        byAge.Registry!.Id.ShouldBe(oldest.Id);
        byDefault.Registry!.Id.ShouldBe(newer.Id);
        byHost.RegistryType.ShouldBe("custom");
        byHost.Registry!.Id.ShouldBe(own.Id);
        missing.Found.ShouldBeFalse();
        missing.RegistryType.ShouldBe("ghcr");
        missing.Registry.ShouldBeNull();
        missing.Message.ShouldBe("No registry credentials configured for this image type");
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("nginx latest")]
    public async Task Lookup_needs_an_image_without_spaces(string? image)
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        var failure = await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, new LookupRegistry.Query(image)));

        failure.Errors.Select(error => error.PropertyName).ShouldContain("image");
    }

    [Fact]
    public async Task The_connection_test_logs_in_with_basic_auth_records_connected_and_audits()
    {
        await using var registry = await FakeDockerRegistry.StartAsync("robot", "hunter2-secret");
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);
        var created = await CreateAsync(admin, "own", ContainerRegistries.Custom, registry.BaseUrl);

        var response = await Fixture.SendAsAsync(admin, new TestRegistry.Command(created.Id));

        response.Message.ShouldBe("Connection test successful");
        response.Status.ShouldBe("connected");
        var stored = await Fixture.SendAsAsync(admin, new GetRegistry.Query(created.Id));
        stored.Status.ShouldBe("connected");
        stored.LastCheck.ShouldNotBeNull();
        stored.LastError.ShouldBeNull();
        (await Fixture.ScalarAsync<string>("SELECT result FROM identity.audit_log WHERE action = 'delivery.registry.test' AND resource_id = @Id", new { Id = created.Id.ToString() }))
            .ShouldBe("success");
    }

    [Fact]
    public async Task The_connection_test_follows_a_bearer_challenge_to_the_token_service()
    {
        await using var registry = await FakeDockerRegistry.StartAsync("robot", "hunter2-secret", tokenAuth: true);
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);
        var created = await CreateAsync(admin, "own", ContainerRegistries.Custom, registry.BaseUrl);

        (await Fixture.SendAsAsync(admin, new TestRegistry.Command(created.Id))).Status.ShouldBe("connected");

        registry.TokenRequests.ShouldBe(1);
    }

    [Fact]
    public async Task A_refused_login_is_a_503_whose_failure_stays_recorded()
    {
        await using var registry = await FakeDockerRegistry.StartAsync("robot", "the-right-one");
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);
        var created = await CreateAsync(admin, "own", ContainerRegistries.Custom, registry.BaseUrl);

        var failure = await Should.ThrowAsync<ServiceUnavailableException>(() => Fixture.SendAsAsync(admin, new TestRegistry.Command(created.Id)));

        failure.Message.ShouldBe("Connection test failed: The registry rejected the login (401)");
        var stored = (await Fixture.QueryAsync<(string Status, string LastError, DateTime? LastCheck)>(
            "SELECT status, last_error, last_check FROM delivery.registries WHERE id = @Id", new { created.Id })).Single();
        stored.Status.ShouldBe("failed");
        stored.LastError.ShouldBe("The registry rejected the login (401)");
        stored.LastCheck.ShouldNotBeNull();
        (await Fixture.ScalarAsync<string>("SELECT result FROM identity.audit_log WHERE action = 'delivery.registry.test' AND resource_id = @Id", new { Id = created.Id.ToString() }))
            .ShouldBe("failure");
    }

    [Fact]
    public async Task The_connection_test_refuses_an_ecr_login_an_unknown_id_and_an_empty_id()
    {
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);
        var ecr = await CreateAsync(admin, "ecr", ContainerRegistries.Ecr, "123456789012.dkr.ecr.eu-west-1.amazonaws.com", new RegistryCredentials { AccessKeyId = "a", SecretAccessKey = "s", Region = "eu-west-1" });

        (await Should.ThrowAsync<ServiceUnavailableException>(() => Fixture.SendAsAsync(admin, new TestRegistry.Command(ecr.Id)))).Message.ShouldContain("ECR logins are exchanged for a token by the AWS API");
        (await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(admin, new TestRegistry.Command(Guid.CreateVersion7())))).Message.ShouldBe("Registry not found");
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(admin, new TestRegistry.Command(Guid.Empty)));
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM identity.audit_log WHERE action = 'delivery.registry.test'")).ShouldBe(1, "only the ECR test reached the registry");
    }
}

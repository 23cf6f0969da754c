using Capstan.Features.Fleet.Integrations;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using FluentValidation;

namespace Capstan.Features.Tests.Fleet.Integrations;

/// <summary>The integration and provider-credential catalogs through the pipeline: whether each is configured (from
/// settings, or for pricing integrations from a fleet-wide vault secret of that name), never a value.</summary>
public sealed class IntegrationHandlerTests(FleetHandlerFixture fixture) : FleetHandlerTest(fixture)
{
    private Task VaultSecretAsync(string name, Guid? instance = null) =>
        Fixture.ExecuteAsync(
            "INSERT INTO fleet.vault_secrets (id, name, instance_id, encrypted_value) VALUES (@Id, @Name, @Instance, '\\x00'::bytea)",
            new { Id = Guid.CreateVersion7(), Name = name, Instance = instance });

    [Fact]
    public async Task Integrations_are_listed_with_whether_a_fleet_wide_vault_secret_configures_them()
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        await VaultSecretAsync("PRICING_FLY_API_TOKEN");
        await VaultSecretAsync("PRICING_RUNPOD_API_KEY", await InstanceAsync("box"));
        await VaultSecretAsync("RESEND_API_KEY");

        var all = await Fixture.SendAsAsync(viewer, new ListIntegrations.Query(null));

        all.Total.ShouldBe(8);
        all.Data.Select(item => item.Id).ShouldBe(
            ["fly-pricing", "runpod-pricing", "northflank-pricing", "gcp-pricing", "digitalocean-pricing", "github-oauth", "google-oauth", "resend"]);
        all.Data.Where(item => item.Configured).Select(item => item.Id).ShouldBe(["fly-pricing"]);
        var github = all.Data.Single(item => item.Id == "github-oauth");
        (github.EnvVarName, github.Category, github.Required).ShouldBe(("GITHUB_CLIENT_ID", "auth", false));
        github.EnvVarNames.ShouldBe(["GITHUB_CLIENT_ID", "GITHUB_CLIENT_SECRET"]);
    }

    [Fact]
    public async Task Integrations_filter_by_category_in_any_case()
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        var auth = await Fixture.SendAsAsync(viewer, new ListIntegrations.Query(" AUTH "));
        var none = await Fixture.SendAsAsync(viewer, new ListIntegrations.Query("billing"));

        auth.Data.Select(item => item.Id).ShouldBe(["github-oauth", "google-oauth"]);
        (none.Total, none.Data.Count).ShouldBe((0, 0));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, new ListIntegrations.Query(new string('c', 65))));
    }

    [Fact]
    public async Task One_integration_reports_its_status_and_unknown_ones_are_not_found()
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        await VaultSecretAsync("PRICING_GCP_API_KEY");

        var gcp = await Fixture.SendAsAsync(viewer, new GetIntegration.Query("gcp-pricing"));
        var fly = await Fixture.SendAsAsync(viewer, new GetIntegration.Query("fly-pricing"));

        (gcp.Id, gcp.Name, gcp.Category, gcp.EnvVarName, gcp.Configured).ShouldBe(("gcp-pricing", "Google Cloud pricing", "compute_catalog", "PRICING_GCP_API_KEY", true));
        gcp.EnabledFeatures.ShouldBe(["compute-catalog", "cost-estimates"]);
        fly.Configured.ShouldBeFalse();
        (await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(viewer, new GetIntegration.Query("GCP-PRICING")))).Message.ShouldBe("Integration not found");
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, new GetIntegration.Query("")));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, new GetIntegration.Query(new string('i', 101))));
    }

    [Fact]
    public async Task A_vault_secret_does_not_configure_an_integration_outside_the_compute_catalog()
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        await VaultSecretAsync("RESEND_API_KEY");

        (await Fixture.SendAsAsync(viewer, new GetIntegration.Query("resend"))).Configured.ShouldBeFalse();
    }

    [Fact]
    public async Task Provider_credentials_are_configured_when_nothing_is_required()
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        var all = await Fixture.SendAsAsync(viewer, new ListProviderCredentials.Query());

        all.Total.ShouldBe(10);
        all.Data.Select(spec => spec.ProviderId).ShouldBe(
            ["fly", "docker", "devpod-aws", "devpod-gcp", "devpod-azure", "devpod-digitalocean", "e2b", "kubernetes", "runpod", "northflank"]);
        all.Data.Where(spec => spec.Configured).Select(spec => spec.ProviderId).ShouldBe(["docker", "kubernetes"]);
        var aws = all.Data.Single(spec => spec.ProviderId == "devpod-aws");
        aws.RequiredEnvVars.ShouldBe(["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]);
        aws.OptionalEnvVars.ShouldBe(["AWS_REGION", "AWS_SESSION_TOKEN"]);
    }

    [Fact]
    public async Task One_providers_credentials_and_unknown_providers_are_not_found()
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        var fly = await Fixture.SendAsAsync(viewer, new GetProviderCredentials.Query("fly"));
        var docker = await Fixture.SendAsAsync(viewer, new GetProviderCredentials.Query("docker"));

        (fly.Name, fly.SetupUrl, fly.Notes, fly.Configured).ShouldBe(("Fly.io", "https://fly.io/docs/flyctl/auth-token/", (string?)null, false));
        fly.RequiredEnvVars.ShouldBe(["FLY_API_TOKEN"]);
        (docker.Configured, docker.Notes).ShouldBe((true, "Uses the local Docker socket unless DOCKER_HOST names another engine."));
        (await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(viewer, new GetProviderCredentials.Query("mars")))).Message.ShouldBe("Provider not found");
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, new GetProviderCredentials.Query("")));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, new GetProviderCredentials.Query(new string('p', 101))));
    }
}

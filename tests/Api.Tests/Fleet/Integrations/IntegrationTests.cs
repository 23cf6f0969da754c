using System.Net;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;

namespace Capstan.Api.Tests.Fleet.Integrations;

/// <summary>Integrations report <c>configured</c> only: from settings (a host of its own with two set) and, for pricing
/// integrations, from fleet-wide vault secrets of the setting's name; no value is ever served.</summary>
public sealed class IntegrationFixture : ApiFixture
{
    public const string GithubSecret = "gh-secret-value-3b1f";

    protected override string Purpose => "fleet_integrations";

    protected override ApiFactory CreateFactory(string connectionString) => new(connectionString, new Dictionary<string, string?>
    {
        ["GITHUB_CLIENT_ID"] = "gh-client-id-9d2e",
        ["GITHUB_CLIENT_SECRET"] = GithubSecret,
        ["GOOGLE_CLIENT_ID"] = "google-only-half",
        ["RUNPOD_API_KEY"] = "runpod-key-77aa",
    });
}

[CollectionDefinition(Name)]
public sealed class IntegrationCollection : ICollectionFixture<IntegrationFixture>
{
    public const string Name = "fleet-integrations";
}

[Collection(IntegrationCollection.Name)]
public sealed class IntegrationTests(IntegrationFixture fixture) : ApiTest<IntegrationFixture>(fixture)
{
    private static readonly string[] IntegrationFields =
        ["id", "name", "description", "setupUrl", "enabledFeatures", "envVarName", "envVarNames", "category", "required", "configured"];

    [Fact]
    public async Task Integrations_say_whether_they_are_configured_and_nothing_more()
    {
        var operatorClient = (await Fixture.ClientAsAsync(BaseRole.Operator)).Client;
        await (await operatorClient.PostJsonAsync("/api/v1/secrets", new { name = "PRICING_FLY_API_TOKEN", value = "fly-token-in-vault" })).ShouldBeJsonAsync(HttpStatusCode.Created);
        var viewer = (await Fixture.ClientAsAsync(BaseRole.Viewer)).Client;

        var response = await viewer.GetAsync("/api/v1/integrations");
        var text = await response.Content.ReadAsStringAsync();
        var list = await response.ShouldBeJsonAsync();

        list.PropertyNames().ShouldBe(["data", "total"]);
        list.GetProperty("total").GetInt32().ShouldBe(8);
        list.GetProperty("data")[0].PropertyNames().ShouldBe(IntegrationFields);
        var configured = list.GetProperty("data").EnumerateArray().ToDictionary(item => item.GetProperty("id").GetString()!, item => item.GetProperty("configured").GetBoolean());
        configured["github-oauth"].ShouldBeTrue();
        configured["google-oauth"].ShouldBeFalse();
        configured["fly-pricing"].ShouldBeTrue();
        configured["runpod-pricing"].ShouldBeFalse();
        text.ShouldNotContain(IntegrationFixture.GithubSecret);
        text.ShouldNotContain("gh-client-id-9d2e");
        text.ShouldNotContain("fly-token-in-vault");
        (await (await viewer.GetAsync("/api/v1/integrations?category=auth")).ShouldBeJsonAsync()).GetProperty("total").GetInt32().ShouldBe(2);

        var one = await (await viewer.GetAsync("/api/v1/integrations/github-oauth")).ShouldBeJsonAsync();
        one.PropertyNames().ShouldBe(IntegrationFields);
        one.GetProperty("envVarNames").GetArrayLength().ShouldBe(2);
        one.GetProperty("configured").GetBoolean().ShouldBeTrue();
        (await (await viewer.GetAsync("/api/v1/integrations/fly-pricing")).ShouldBeJsonAsync()).GetProperty("configured").GetBoolean().ShouldBeTrue();
        (await (await viewer.GetAsync("/api/v1/integrations/nope")).ShouldBeErrorAsync(HttpStatusCode.NotFound)).GetProperty("message").GetString().ShouldBe("Integration not found");
    }

    [Fact]
    public async Task Provider_credential_specs_list_the_settings_they_need()
    {
        var viewer = (await Fixture.ClientAsAsync(BaseRole.Viewer)).Client;

        var list = await (await viewer.GetAsync("/api/v1/integrations/providers")).ShouldBeJsonAsync();

        list.PropertyNames().ShouldBe(["data", "total"]);
        list.GetProperty("total").GetInt32().ShouldBe(10);
        list.GetProperty("data")[0].PropertyNames().ShouldBe(["providerId", "name", "description", "setupUrl", "requiredEnvVars", "optionalEnvVars", "notes", "configured"]);
        var runpod = await (await viewer.GetAsync("/api/v1/integrations/providers/runpod")).ShouldBeJsonAsync();
        runpod.GetProperty("requiredEnvVars")[0].GetString().ShouldBe("RUNPOD_API_KEY");
        runpod.GetProperty("configured").GetBoolean().ShouldBeTrue();
        (await (await viewer.GetAsync("/api/v1/integrations/providers/fly")).ShouldBeJsonAsync()).GetProperty("configured").GetBoolean().ShouldBeFalse();
        (await (await viewer.GetAsync("/api/v1/integrations/providers/docker")).ShouldBeJsonAsync()).GetProperty("configured").GetBoolean().ShouldBeTrue();
        await (await viewer.GetAsync("/api/v1/integrations/providers/nope")).ShouldBeErrorAsync(HttpStatusCode.NotFound);
    }

    [Theory]
    [InlineData("/api/v1/integrations")]
    [InlineData("/api/v1/integrations/github-oauth")]
    [InlineData("/api/v1/integrations/providers")]
    [InlineData("/api/v1/integrations/providers/fly")]
    public async Task Anonymous_callers_get_401(string path) =>
        await (await Client.GetAsync(path)).ShouldBeErrorAsync(HttpStatusCode.Unauthorized);
}

using System.Text.Json;
using Capstan.Features.Identity.AuthProviders;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;

namespace Capstan.Features.Tests.Identity.AuthProviders;

public sealed class UpdateAuthProviderTests(IdentitySsoFixture fixture) : SsoHandlerTest(fixture)
{
    [Fact]
    public async Task Absent_fields_stay_and_null_clears()
    {
        var created = await CreateProviderAsync();
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);
        var command = JsonSerializer.Deserialize<UpdateAuthProvider.Command>("""{"userInfoUrl": null, "roleMapping": null, "usePkce": false}""", JsonSerializerOptions.Web)!;

        var updated = await Fixture.SendAsAsync(admin, command with { Id = created.Provider.Id });

        updated.Provider.UsePkce.ShouldBeFalse();
        updated.Provider.RoleMapping.ShouldBeNull();
        updated.Provider.UserInfoUrl.ShouldBeNull();
        updated.Provider.IssuerUrl.ShouldBe(Oidc.Issuer);
        updated.Provider.Name.ShouldBe("corp");
        updated.Provider.UpdatedAt.ShouldBeGreaterThanOrEqualTo(created.Provider.UpdatedAt);
    }

    [Fact]
    public async Task The_provider_as_it_would_be_must_hold()
    {
        var created = await CreateProviderAsync();
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);
        var command = JsonSerializer.Deserialize<UpdateAuthProvider.Command>("""{"issuerUrl": ""}""", JsonSerializerOptions.Web)!;

        var failure = await Should.ThrowAsync<BadRequestException>(() => Fixture.SendAsAsync(admin, command with { Id = created.Provider.Id }));

        failure.Details!.Keys.ShouldContain("issuerUrl");
        (await Fixture.ScalarAsync<string>("SELECT issuer_url FROM identity.auth_providers")).ShouldBe(Oidc.Issuer);
    }

    [Fact]
    public async Task Unknown_ids_are_not_found()
    {
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);

        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(admin, new UpdateAuthProvider.Command { Id = Guid.NewGuid(), Enabled = false }));
    }
}

using Capstan.Features.Delivery.Settings;
using Capstan.Infrastructure.Security;
using Capstan.Infrastructure.Settings;
using Capstan.Tests.Support;

namespace Capstan.Features.Tests.Delivery.Settings;

/// <summary>The invite-code slices through the real pipeline: reading makes a code once and keeps it; generating
/// replaces it, records who did it and audits without the code.</summary>
[Collection(DeliveryHandlerCollection.Name)]
public sealed class InviteCodeHandlerTests(DeliveryHandlerFixture fixture) : HandlerTest<DeliveryHandlerFixture>(fixture)
{
    private Task<string?> StoredCodeAsync() =>
        Fixture.ScalarAsync<string>("SELECT value #>> '{}' FROM identity.settings WHERE key = @Key", new { Key = InviteCodes.CodeKey });

    [Fact]
    public async Task Reading_makes_a_six_digit_code_when_there_is_none_and_then_keeps_it_without_auditing()
    {
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);
        (await StoredCodeAsync()).ShouldBeNull();

        var first = await Fixture.SendAsAsync(admin, new GetInviteCode.Command());
        var second = await Fixture.SendAsAsync(admin, new GetInviteCode.Command());

        first.InviteCode.ShouldMatch("^[0-9]{6}$");
        second.InviteCode.ShouldBe(first.InviteCode);
        (await StoredCodeAsync()).ShouldBe(first.InviteCode);
        (await Fixture.ScalarAsync<Guid>("SELECT updated_by FROM identity.settings WHERE key = @Key", new { Key = InviteCodes.CodeKey })).ShouldBe(admin.Id);
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM identity.audit_log WHERE actor_id = @Actor", new { Actor = admin.Id })).ShouldBe(0);
    }

    [Fact]
    public async Task Reading_returns_the_code_already_stored()
    {
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);
        await Fixture.ExecuteAsync(
            "INSERT INTO identity.settings (key, value, updated_at) VALUES (@Key, '\"424242\"'::jsonb, now())", new { Key = InviteCodes.CodeKey });

        (await Fixture.SendAsAsync(admin, new GetInviteCode.Command())).InviteCode.ShouldBe("424242");
    }

    [Fact]
    public async Task Generating_replaces_the_code_records_the_admin_and_audits_without_the_code()
    {
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);
        var other = await Fixture.CreateUserAsync(BaseRole.Admin);
        await Fixture.ExecuteAsync(
            "INSERT INTO identity.settings (key, value, updated_by, updated_at) VALUES (@Key, '\"old-code\"'::jsonb, @By, now())", new { Key = InviteCodes.CodeKey, By = other.Id });

        var generated = await Fixture.SendAsAsync(admin, new GenerateInviteCode.Command());

        generated.InviteCode.ShouldMatch("^[0-9]{6}$");
        (await StoredCodeAsync()).ShouldBe(generated.InviteCode);
        (await Fixture.ScalarAsync<Guid>("SELECT updated_by FROM identity.settings WHERE key = @Key", new { Key = InviteCodes.CodeKey })).ShouldBe(admin.Id);
        (await Fixture.SendAsAsync(other, new GetInviteCode.Command())).InviteCode.ShouldBe(generated.InviteCode);
        var audit = (await Fixture.QueryAsync<(Guid ActorId, string ResourceType, string ResourceId, string Metadata)>(
            "SELECT actor_id, resource_type, resource_id, metadata::text FROM identity.audit_log WHERE action = 'delivery.invite_code.generate'")).Single();
        audit.ActorId.ShouldBe(admin.Id);
        audit.ResourceType.ShouldBe("setting");
        audit.ResourceId.ShouldBe(InviteCodes.CodeKey);
        audit.Metadata.ShouldNotContain(generated.InviteCode);
    }
}

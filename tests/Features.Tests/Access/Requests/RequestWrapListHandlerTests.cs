using Capstan.Features.Access.Requests;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using FluentValidation;

namespace Capstan.Features.Tests.Access.Requests;

/// <summary>The requester's value-free list of a request's wraps through the real pipeline: what each wrap shows, the
/// order, who may list them and the <c>user_id</c> rule.</summary>
public sealed class RequestWrapListHandlerTests(AccessHandlerFixture fixture) : AccessHandlerTest(fixture)
{
    private async Task<RequestBody> PatchAsync(TestUser requester, params string[] keys) =>
        await SendAsync(CallerOf(requester), new SubmitPatchRequest.Command(
            null, null, null, "vault", null, "apps/db", keys.ToDictionary(key => key, key => "value-of-" + key), "rotate"));

    [Fact]
    public async Task The_requester_sees_each_wrap_by_key_without_its_value()
    {
        var developer = await Fixture.CreateUserAsync(BaseRole.Developer);
        var request = await PatchAsync(developer, "ZETA", "ALPHA", "MIDDLE");

        var wraps = await SendAsync(CallerOf(developer), new ListRequestWraps.Query(request.Id, null));

        wraps.Select(wrap => wrap.KeyName).ShouldBe(["ALPHA", "MIDDLE", "ZETA"]);
        wraps.ShouldAllBe(wrap => !wrap.Consumed && wrap.ConsumedAt == null && wrap.Available && wrap.Origin == "requester");
        wraps.Single(wrap => wrap.KeyName == "ZETA").ByteLength.ShouldBe((long)"value-of-ZETA".Length);
        wraps.Select(wrap => wrap.Id).ShouldBe(await Fixture.QueryAsync<Guid>("SELECT id FROM access.wraps ORDER BY key_name"));
        wraps.ShouldAllBe(wrap => wrap.ExpiresAt > DateTime.UtcNow);
    }

    [Fact]
    public async Task A_consumed_or_expired_wrap_is_not_available()
    {
        var developer = await Fixture.CreateUserAsync(BaseRole.Developer);
        var request = await PatchAsync(developer, "A", "B", "C");
        await Fixture.ExecuteAsync("UPDATE access.wraps SET consumed_at = now(), consumed_by_user = @User, envelope = NULL WHERE key_name = 'A'", new { User = developer.Id });
        await Fixture.ExecuteAsync("UPDATE access.wraps SET expires_at = now() - interval '1 minute' WHERE key_name = 'B'");

        var wraps = await SendAsync(CallerOf(developer), new ListRequestWraps.Query(request.Id, null));

        var consumed = wraps.Single(wrap => wrap.KeyName == "A");
        consumed.Consumed.ShouldBeTrue();
        consumed.ConsumedAt.ShouldNotBeNull();
        consumed.Available.ShouldBeFalse();
        var expired = wraps.Single(wrap => wrap.KeyName == "B");
        expired.Consumed.ShouldBeFalse();
        expired.Available.ShouldBeFalse();
        wraps.Single(wrap => wrap.KeyName == "C").Available.ShouldBeTrue();
    }

    [Fact]
    public async Task Only_the_requester_lists_the_wraps_even_an_approver_gets_a_404()
    {
        var developer = await Fixture.CreateUserAsync(BaseRole.Developer);
        var stranger = await Fixture.CreateUserAsync(BaseRole.Developer);
        var approver = await Fixture.CreateUserAsync(BaseRole.Admin);
        var request = await PatchAsync(developer, "K");

        (await Should.ThrowAsync<NotFoundException>(() => SendAsync(CallerOf(stranger), new ListRequestWraps.Query(request.Id, null)))).Message.ShouldBe("request not found");
        await Should.ThrowAsync<NotFoundException>(() => SendAsync(CallerOf(approver), new ListRequestWraps.Query(request.Id, null)));
        await Should.ThrowAsync<NotFoundException>(() => SendAsync(CallerOf(developer), new ListRequestWraps.Query(Guid.CreateVersion7(), null)));
    }

    [Fact]
    public async Task The_user_id_may_only_name_the_caller()
    {
        var developer = await Fixture.CreateUserAsync(BaseRole.Developer);
        var other = await Fixture.CreateUserAsync(BaseRole.Developer);
        var request = await PatchAsync(developer, "K");

        (await SendAsync(CallerOf(developer), new ListRequestWraps.Query(request.Id, developer.Id.ToString()))).Count.ShouldBe(1);
        (await SendAsync(CallerOf(developer), new ListRequestWraps.Query(request.Id, $" user:{developer.Id} "))).Count.ShouldBe(1);
        (await Should.ThrowAsync<BadRequestException>(() => SendAsync(CallerOf(developer), new ListRequestWraps.Query(request.Id, other.Id.ToString()))))
            .Details!.Keys.ShouldBe(["user_id"]);
        (await Should.ThrowAsync<BadRequestException>(() => SendAsync(CallerOf(developer), new ListRequestWraps.Query(request.Id, "not-a-guid"))))
            .Message.ShouldBe("user_id must be the caller's own id or omitted");
        (await Should.ThrowAsync<ValidationException>(() => SendAsync(CallerOf(developer), new ListRequestWraps.Query(request.Id, new string('u', 101)))))
            .Errors.Select(error => error.PropertyName).ShouldBe(["user_id"]);
    }
}

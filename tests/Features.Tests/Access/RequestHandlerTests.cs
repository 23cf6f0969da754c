using System.Text;
using System.Text.Json;
using Capstan.Features.Access.Requests;
using Capstan.Infrastructure.Crypto;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using FluentValidation;
using Microsoft.Extensions.DependencyInjection;

namespace Capstan.Features.Tests.Access;

/// <summary>The request slices' handlers and validators: submission, votes, cancel, visibility, single-shot retrieval.</summary>
public sealed class RequestHandlerTests(AccessHandlerFixture fixture) : AccessHandlerTest(fixture)
{
    private static SubmitPatchRequest.Command Patch(Dictionary<string, string>? values = null, Guid? project = null, string? requester = null) =>
        new(requester, project, null, "vault", null, "apps/db", values ?? new Dictionary<string, string> { ["K"] = "value-1" }, "because");

    [Fact]
    public async Task Submit_stores_each_value_encrypted_and_bound_to_its_wrap()
    {
        var developer = await Fixture.CreateUserAsync(BaseRole.Developer);

        var body = await SendAsync(CallerOf(developer), Patch(new Dictionary<string, string> { [" PASSWORD "] = "pa55word" }));

        body.Status.ShouldBe("pending");
        body.RequesterId.ShouldBe(developer.Id);
        body.TargetKeys.ShouldBe(["PASSWORD"]);
        var wrap = (await Fixture.QueryAsync<(Guid Id, byte[] Envelope, long ByteLength)>("SELECT id, envelope, byte_length FROM access.wraps")).Single();
        wrap.ByteLength.ShouldBe(8);
        var cipher = Fixture.Services.GetRequiredService<EnvelopeCipher>();
        cipher.DecryptString(wrap.Envelope, $"access.wraps:{wrap.Id}").ShouldBe("pa55word");
        Should.Throw<System.Security.Cryptography.CryptographicException>(() => cipher.Decrypt(wrap.Envelope, $"access.wraps:{Guid.NewGuid()}"));
        Encoding.UTF8.GetString(wrap.Envelope).ShouldNotContain("pa55word");
    }

    [Fact]
    public async Task Submit_checks_the_callers_scope_and_identity()
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var projectId = Guid.CreateVersion7();
        await Fixture.ExecuteAsync("INSERT INTO access.projects (id, name) VALUES (@Id, 'p')", new { Id = projectId });
        var scoped = CallerOf(viewer, new ScopedGrant(Permissions.SecretRequest, new Dictionary<string, string> { ["project_id"] = projectId.ToString() }));

        (await SendAsync(scoped, Patch(project: projectId))).ProjectId.ShouldBe(projectId);
        await Should.ThrowAsync<ForbiddenException>(() => SendAsync(scoped, Patch()));
        await Should.ThrowAsync<ForbiddenException>(() => SendAsync(CallerOf(viewer), Patch(project: projectId)));
        (await Should.ThrowAsync<BadRequestException>(() => SendAsync(scoped, Patch(project: projectId, requester: Guid.NewGuid().ToString())))).Details!.Keys.ShouldContain("requester_id");
        (await SendAsync(scoped, Patch(project: projectId, requester: $"user:{viewer.Id}"))).RequesterId.ShouldBe(viewer.Id);
    }

    [Theory]
    [InlineData(null, "key_values")]
    [InlineData("", "key_values")]
    [InlineData("big", "key_values")]
    public async Task The_patch_validator_names_key_values(string? shape, string field)
    {
        var developer = await Fixture.CreateUserAsync(BaseRole.Developer);
        var values = shape switch
        {
            null => null,
            "" => [],
            _ => new Dictionary<string, string> { ["K"] = new string('x', SubmitPatchRequest.MaxValueBytes + 1) },
        };

        var failure = await Should.ThrowAsync<ValidationException>(() => SendAsync(CallerOf(developer), Patch() with { KeyValues = values }));

        failure.Errors.Select(error => error.PropertyName).ShouldContain(field);
    }

    [Fact]
    public async Task Votes_follow_the_workflow_and_the_threshold()
    {
        var developer = await Fixture.CreateUserAsync(BaseRole.Developer);
        var first = await Fixture.CreateUserAsync(BaseRole.Operator);
        var second = await Fixture.CreateUserAsync(BaseRole.Operator);
        await Fixture.ExecuteAsync("UPDATE access.workflows SET min_approvers = 2 WHERE is_default");
        var request = await SendAsync(CallerOf(developer), Patch());

        await Should.ThrowAsync<ForbiddenException>(() => SendAsync(CallerOf(developer) with { Permissions = PermissionCatalog.Of(BaseRole.Operator) }, new ApproveRequest.Command(request.Id, null, null)));
        (await SendAsync(CallerOf(first), new ApproveRequest.Command(request.Id, null, "one"))).Status.ShouldBe("pending");
        await Should.ThrowAsync<ConflictException>(() => SendAsync(CallerOf(first), new ApproveRequest.Command(request.Id, null, null)));
        var approved = await SendAsync(CallerOf(second), new ApproveRequest.Command(request.Id, second.Id.ToString(), null));

        approved.Status.ShouldBe("approved");
        approved.JobId.ShouldNotBeNull();
        approved.Approvals.Count.ShouldBe(2);
        var payload = JsonDocument.Parse((await Fixture.ScalarAsync<string>("SELECT payload::text FROM access.jobs"))!).RootElement;
        payload.GetProperty("request_id").GetGuid().ShouldBe(request.Id);
        payload.GetProperty("wraps").GetArrayLength().ShouldBe(1);
        payload.GetProperty("target_scope").GetProperty("environment").GetString().ShouldBe(string.Empty);
    }

    [Fact]
    public async Task Reject_and_cancel_close_a_pending_request_once()
    {
        var developer = await Fixture.CreateUserAsync(BaseRole.Developer);
        var approver = await Fixture.CreateUserAsync(BaseRole.Operator);
        var rejected = await SendAsync(CallerOf(developer), Patch());
        var cancelled = await SendAsync(CallerOf(developer), Patch());

        (await SendAsync(CallerOf(approver), new RejectRequest.Command(rejected.Id, null, " not now "))).RejectReason.ShouldBe("not now");
        await Should.ThrowAsync<ConflictException>(() => SendAsync(CallerOf(approver), new RejectRequest.Command(rejected.Id, null, "again")));
        await Should.ThrowAsync<ValidationException>(() => SendAsync(CallerOf(approver), new RejectRequest.Command(cancelled.Id, null, "  ")));
        await Should.ThrowAsync<ForbiddenException>(() => SendAsync(CallerOf(approver), new CancelRequest.Command(cancelled.Id, null)));
        (await SendAsync(CallerOf(developer), new CancelRequest.Command(cancelled.Id, null))).Status.ShouldBe("cancelled");
        await Should.ThrowAsync<ConflictException>(() => SendAsync(CallerOf(developer), new CancelRequest.Command(rejected.Id, null)));
    }

    [Fact]
    public async Task Requests_are_visible_to_their_requester_and_their_approvers_only()
    {
        var alice = await Fixture.CreateUserAsync(BaseRole.Developer);
        var bob = await Fixture.CreateUserAsync(BaseRole.Developer);
        var approver = await Fixture.CreateUserAsync(BaseRole.Operator);
        var request = await SendAsync(CallerOf(alice), Patch());

        (await SendAsync(CallerOf(alice), new GetRequest.Query(request.Id))).Id.ShouldBe(request.Id);
        (await SendAsync(CallerOf(approver), new GetRequest.Query(request.Id))).Id.ShouldBe(request.Id);
        await Should.ThrowAsync<NotFoundException>(() => SendAsync(CallerOf(bob), new GetRequest.Query(request.Id)));
        (await SendAsync(CallerOf(bob), new ListRequests.Query(null, null, null, null, null, null))).ShouldBeEmpty();
        (await SendAsync(CallerOf(approver), new ListRequests.Query(null, "pending", "patch", null, 10, 0))).Count.ShouldBe(1);
        await Should.ThrowAsync<ValidationException>(() => SendAsync(CallerOf(alice), new ListRequests.Query(null, "nope", null, null, null, null)));
    }

    [Fact]
    public async Task A_read_value_is_retrieved_once_and_its_ciphertext_erased()
    {
        var developer = await Fixture.CreateUserAsync(BaseRole.Developer);
        var approver = await Fixture.CreateUserAsync(BaseRole.Operator);
        var request = await SendAsync(CallerOf(developer), new SubmitReadRequest.Command(null, null, null, "vault", null, "apps/db", ["K"], "j", null));
        await SendAsync(CallerOf(approver), new ApproveRequest.Command(request.Id, null, null));
        var wrapId = Guid.CreateVersion7();
        var cipher = Fixture.Services.GetRequiredService<EnvelopeCipher>();
        await Fixture.ExecuteAsync(
            """
            INSERT INTO access.wraps (id, request_id, key_name, envelope, kms_key_id, content_hash, byte_length, origin, expires_at)
            VALUES (@Id, @RequestId, 'K', @Envelope, 'k', @Hash, 3, 'agent', now() + interval '1 hour')
            """,
            new { Id = wrapId, RequestId = request.Id, Envelope = cipher.Encrypt("abc"u8, $"access.wraps:{wrapId}"), Hash = System.Security.Cryptography.SHA256.HashData("abc"u8) });

        var value = await SendAsync(CallerOf(developer), new RetrieveRequestWrap.Command(request.Id, wrapId, null));

        Convert.FromBase64String(value.Value).ShouldBe("abc"u8.ToArray());
        (await Should.ThrowAsync<GoneException>(() => SendAsync(CallerOf(developer), new RetrieveRequestWrap.Command(request.Id, wrapId, null)))).Message.ShouldBe("wrap already consumed");
        await Should.ThrowAsync<NotFoundException>(() => SendAsync(CallerOf(approver), new RetrieveRequestWrap.Command(request.Id, wrapId, null)));
        (await Fixture.ScalarAsync<bool>("SELECT envelope IS NULL AND consumed_by_user = @User FROM access.wraps", new { User = developer.Id })).ShouldBeTrue();
    }
}

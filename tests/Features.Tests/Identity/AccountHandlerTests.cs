using Capstan.Features.Identity;
using Capstan.Features.Platform;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using FluentValidation;
using Microsoft.Extensions.DependencyInjection;

namespace Capstan.Features.Tests.Identity;

/// <summary>ChangePassword, Logout, the API-key slices, WebSocket tickets and the version handler.</summary>
public sealed class AccountHandlerTests(FeaturesFixture fixture) : HandlerTest(fixture)
{
    [Fact]
    public async Task Change_password_checks_history_and_records_the_old_hash()
    {
        var user = await Fixture.CreateUserAsync();

        var changed = await Fixture.SendAsAsync(user, new ChangePassword.Command(user.Password, "Second-Passw0rd"));
        var reuse = await Should.ThrowAsync<BadRequestException>(() => Fixture.SendAsAsync(user, new ChangePassword.Command("Second-Passw0rd", user.Password)));

        changed.Success.ShouldBeTrue();
        reuse.Message.ShouldBe("New password cannot be the same as a recently used password");
        await Should.ThrowAsync<UnauthorizedException>(() => Fixture.SendAsAsync(user, new ChangePassword.Command(user.Password, "Third-Passw0rd")));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(user, new ChangePassword.Command("Second-Passw0rd", "weak")));
    }

    [Fact]
    public async Task Logout_all_revokes_every_session_of_the_caller_only()
    {
        var user = await Fixture.CreateUserAsync();
        var other = await Fixture.CreateUserAsync();
        foreach (var who in new[] { user, user, other })
        {
            await Fixture.SendAsync(new Login.Command { Username = who.Username, Password = who.Password });
        }

        var response = await Fixture.SendAsAsync(user, new Logout.Command(All: true));

        response.SessionsEnded.ShouldBe(2);
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM identity.sessions WHERE revoked_at IS NULL")).ShouldBe(1);
    }

    [Fact]
    public async Task Api_keys_are_created_listed_and_revoked_per_owner()
    {
        var owner = await Fixture.CreateUserAsync(BaseRole.Operator);
        var stranger = await Fixture.CreateUserAsync(BaseRole.Admin);

        var created = await Fixture.SendAsAsync(owner, new CreateApiKey.Command("deploy", 7, null, "developer"));
        var listed = await Fixture.SendAsAsync(owner, new ListApiKeys.Query());

        created.Role.ShouldBe("developer");
        created.ExpiresAt!.Value.ShouldBe(DateTime.UtcNow.AddDays(7), TimeSpan.FromMinutes(1));
        listed.ApiKeys.Single().KeyPrefix.ShouldBe(created.Key[..12]);
        (await Fixture.QueryAsync<byte[]>("SELECT key_hash FROM identity.api_keys")).Single().ShouldBe(SecretTokens.Hash(created.Key));
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(stranger, new RevokeApiKey.Command(created.Id)));
        await Fixture.SendAsAsync(owner, new RevokeApiKey.Command(created.Id));
        (await Fixture.SendAsAsync(owner, new ListApiKeys.Query())).ApiKeys.ShouldBeEmpty();
    }

    [Fact]
    public async Task A_ticket_authenticates_once()
    {
        var user = await Fixture.CreateUserAsync();
        var ticket = (await Fixture.SendAsAsync(user, new CreateWebSocketTicket.Command())).Ticket;
        var credentials = Fixture.Services.GetRequiredService<CredentialStore>();

        var first = await credentials.FromTicketAsync(ticket, CancellationToken.None);
        var second = await credentials.FromTicketAsync(ticket, CancellationToken.None);

        first.Caller!.UserId.ShouldBe(user.Id);
        first.Caller.Method.ShouldBe(AuthMethod.Ticket);
        second.Caller.ShouldBeNull();
    }

    [Fact]
    public async Task An_expired_ticket_is_refused()
    {
        var user = await Fixture.CreateUserAsync();
        var ticket = (await Fixture.SendAsAsync(user, new CreateWebSocketTicket.Command())).Ticket;
        await Fixture.ExecuteAsync("UPDATE identity.ws_tickets SET expires_at = now() - interval '1 second'");

        (await Fixture.Services.GetRequiredService<CredentialStore>().FromTicketAsync(ticket, CancellationToken.None)).Caller.ShouldBeNull();
    }

    [Fact]
    public async Task Version_without_a_cli_reports_it_unavailable()
    {
        var user = await Fixture.CreateUserAsync();

        var version = await Fixture.SendAsAsync(user, new GetVersion.Query());

        version.CliAvailable.ShouldBeFalse();
        version.MinInstanceVersion.ShouldBeNull();
        version.ConsoleApi.ShouldNotBeNullOrEmpty();
    }
}

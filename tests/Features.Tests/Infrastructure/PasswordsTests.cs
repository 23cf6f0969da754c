using Capstan.Infrastructure.Security;

namespace Capstan.Features.Tests.Infrastructure;

/// <summary>The password hash of unknown users, computed after ready rather than on start-up's path.</summary>
public sealed class PasswordsTests
{
    [Fact]
    public async Task The_warm_up_after_ready_computes_the_hash_unknown_users_are_checked_against()
    {
        await new PasswordTimingWarmUp().AfterReadyAsync(CancellationToken.None);

        Passwords.IsWarm.ShouldBeTrue();
    }

    [Fact]
    public void A_user_without_a_hash_never_verifies_and_a_hash_verifies_only_its_own_password()
    {
        var hash = Passwords.Hash("Correct-Horse-9");

        Passwords.Verify(null, "Correct-Horse-9").ShouldBeFalse();
        Passwords.Verify(hash, "Correct-Horse-9").ShouldBeTrue();
        Passwords.Verify(hash, "Correct-Horse-8").ShouldBeFalse();
    }
}

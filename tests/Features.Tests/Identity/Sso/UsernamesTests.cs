using Capstan.Infrastructure.Security;

namespace Capstan.Features.Tests.Identity.Sso;

public sealed class UsernamesTests
{
    [Theory]
    [InlineData("Alice.Example", "alice.example")]
    [InlineData("  bob smith  ", "bob_smith")]
    [InlineData("__weird!!name__", "weird_name")]
    [InlineData("-.-", null)]
    [InlineData("", null)]
    [InlineData("Ünïcode", "n_code")]
    public void Sanitises_like_gyre(string raw, string? expected) => Usernames.Sanitise(raw).ShouldBe(expected);

    [Fact]
    public void Keeps_at_most_fifty_characters() => Usernames.Sanitise(new string('a', 80))!.Length.ShouldBe(Usernames.MaximumBaseLength);
}

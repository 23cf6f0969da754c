using System.Security.Cryptography;
using System.Text;
using Capstan.Infrastructure.Security;

namespace Capstan.Features.Tests.Infrastructure;

/// <summary>The credential cache's keys: the kind and the SHA-256 of the presented secret, never the secret.</summary>
public sealed class CredentialCheckKeyTests
{
    [Theory]
    [InlineData(40)]
    [InlineData(2000)] // past the stack buffer: hashed from a pooled array
    public void A_key_is_the_kind_and_the_sha256_of_the_secret_however_the_secret_is_presented(int length)
    {
        var secret = string.Concat(Enumerable.Repeat("é-token.", length / 8 + 1))[..length];
        var header = "Bearer " + secret + "  ";

        var key = CredentialCheckCache.KeyOf("bearer", header.AsSpan(7).Trim());

        key.ShouldBe("bearer:" + Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes(secret))));
        key.ShouldBe(CredentialCheckCache.KeyOf("bearer", secret));
        key.ShouldNotContain(secret[..8]);
        CredentialCheckCache.KeyOf("key", secret).ShouldNotBe(key);
        CredentialCheckCache.KeyOf("bearer", secret + "x").ShouldNotBe(key);
    }
}

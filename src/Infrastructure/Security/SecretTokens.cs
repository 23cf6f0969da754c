using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;

namespace Capstan.Infrastructure.Security;

/// <summary>Bearer secrets (session tokens, API keys, tickets, agent secrets): 32 random bytes, shown once, stored only
/// as their SHA-256.</summary>
public static class SecretTokens
{
    public static string Generate(string prefix = "") => prefix + Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32));

    public static string GenerateHex(int bytes = 32) => Convert.ToHexString(RandomNumberGenerator.GetBytes(bytes)).ToLowerInvariant();

    public static byte[] Hash(string token) => SHA256.HashData(Encoding.UTF8.GetBytes(token));

    public static bool FixedTimeEquals(string a, string b) =>
        CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(a), Encoding.UTF8.GetBytes(b));
}

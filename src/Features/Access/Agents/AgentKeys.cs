using System.Buffers.Text;
using System.Security.Cryptography;
using Capstan.Infrastructure.Crypto;
using Capstan.Infrastructure.Errors;

namespace Capstan.Features.Access.Agents;

/// <summary>Agent wire-envelope public keys (mint and self-registration): raw 32-byte X25519 keys in standard base64,
/// algorithm <c>x25519</c>; bad input is a 400 naming the field (the upstream answered 500).</summary>
internal static class AgentKeys
{
    public static byte[] Parse(string? base64, string? algorithm)
    {
        if (!string.IsNullOrEmpty(algorithm) && algorithm != WireSealing.KeyAlgorithm)
        {
            throw BadRequestException.ForField("public_key_algorithm", "public_key_algorithm must be x25519");
        }

        byte[] key;
        try
        {
            key = Convert.FromBase64String(base64 ?? string.Empty);
        }
        catch (FormatException)
        {
            throw BadRequestException.ForField("public_key", "public_key is not valid base64");
        }

        if (key.Length != WireSealing.KeyLength)
        {
            throw BadRequestException.ForField("public_key", $"public_key must be {WireSealing.KeyLength} bytes (an X25519 public key), not {key.Length}");
        }

        if (!WireSealing.IsUsablePublicKey(key))
        {
            throw BadRequestException.ForField("public_key", "public_key is a low-order X25519 point");
        }

        return key;
    }

    /// <summary>A short public fingerprint for logs and listings: base64url(SHA-256(key)[..8]).</summary>
    public static string Fingerprint(byte[] key) => Base64Url.EncodeToString(SHA256.HashData(key).AsSpan(0, 8));
}

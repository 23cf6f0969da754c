using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Serialization;
using Org.BouncyCastle.Math.EC.Rfc7748;

namespace Capstan.Infrastructure.Crypto;

/// <summary>A value sealed toward one X25519 public key, as it travels in JSON (standard base64 with padding).</summary>
public sealed record SealedValue(
    [property: JsonPropertyName("algorithm")] string Algorithm,
    [property: JsonPropertyName("ciphertext")] string Ciphertext,
    [property: JsonPropertyName("nonce")] string Nonce,
    [property: JsonPropertyName("ephemeral_public_key")] string EphemeralPublicKey);

/// <summary>
/// The wire envelope toward access agents, algorithm <c>x25519-hkdf-aes-gcm</c> (secrets-bridge's <c>pkg/sealing</c>):
/// a fresh ephemeral X25519 key per value; <c>shared = X25519(eph_priv, agent_pub)</c>;
/// <c>key = HKDF-SHA256(ikm: shared, salt: eph_pub ‖ agent_pub, info: "secrets-bridge.wrap.v1", 32 bytes)</c>;
/// <c>AES-256-GCM(key, random 12-byte nonce, no AAD)</c>, ciphertext followed by the 16-byte tag. BouncyCastle does the
/// X25519 arithmetic only; HKDF and AES-GCM are .NET's.
/// </summary>
public static class WireSealing
{
    public const string Algorithm = "x25519-hkdf-aes-gcm";
    public const string KeyAlgorithm = "x25519";
    public const int KeyLength = 32;
    public const int NonceLength = 12;
    public const int TagLength = 16;

    private static readonly byte[] Info = Encoding.ASCII.GetBytes("secrets-bridge.wrap.v1");

    /// <summary>Seals <paramref name="plaintext"/> toward <paramref name="recipientPublicKey"/> with a fresh ephemeral
    /// key and nonce.</summary>
    public static SealedValue Seal(ReadOnlySpan<byte> plaintext, ReadOnlySpan<byte> recipientPublicKey)
    {
        var ephemeralPrivate = RandomNumberGenerator.GetBytes(KeyLength);
        try
        {
            return Seal(plaintext, recipientPublicKey, ephemeralPrivate, RandomNumberGenerator.GetBytes(NonceLength));
        }
        finally
        {
            CryptographicOperations.ZeroMemory(ephemeralPrivate);
        }
    }

    /// <summary>Seals with a given ephemeral private key and nonce (deterministic; for test vectors only — never reuse
    /// either in production).</summary>
    public static SealedValue Seal(ReadOnlySpan<byte> plaintext, ReadOnlySpan<byte> recipientPublicKey, ReadOnlySpan<byte> ephemeralPrivateKey, ReadOnlySpan<byte> nonce)
    {
        RequireLength(recipientPublicKey, KeyLength, "recipient public key");
        RequireLength(ephemeralPrivateKey, KeyLength, "ephemeral private key");
        RequireLength(nonce, NonceLength, "nonce");

        var ephemeralPublic = PublicKeyOf(ephemeralPrivateKey);
        var key = DeriveKey(Agree(ephemeralPrivateKey, recipientPublicKey), ephemeralPublic, recipientPublicKey);
        var output = new byte[plaintext.Length + TagLength];
        try
        {
            using var aes = new AesGcm(key, TagLength);
            aes.Encrypt(nonce, plaintext, output.AsSpan(0, plaintext.Length), output.AsSpan(plaintext.Length));
        }
        finally
        {
            CryptographicOperations.ZeroMemory(key);
        }

        return new SealedValue(Algorithm, Convert.ToBase64String(output), Convert.ToBase64String(nonce), Convert.ToBase64String(ephemeralPublic));
    }

    /// <summary>Opens a sealed value with the recipient's private key (what an agent does).</summary>
    public static byte[] Open(SealedValue sealedValue, ReadOnlySpan<byte> recipientPrivateKey)
    {
        if (sealedValue.Algorithm != Algorithm)
        {
            throw new CryptographicException($"Unknown sealing algorithm '{sealedValue.Algorithm}'.");
        }

        RequireLength(recipientPrivateKey, KeyLength, "recipient private key");
        var ephemeralPublic = Convert.FromBase64String(sealedValue.EphemeralPublicKey);
        var nonce = Convert.FromBase64String(sealedValue.Nonce);
        var sealedBytes = Convert.FromBase64String(sealedValue.Ciphertext);
        RequireLength(ephemeralPublic, KeyLength, "ephemeral public key");
        RequireLength(nonce, NonceLength, "nonce");
        if (sealedBytes.Length < TagLength)
        {
            throw new CryptographicException("The ciphertext is shorter than its tag.");
        }

        var key = DeriveKey(Agree(recipientPrivateKey, ephemeralPublic), ephemeralPublic, PublicKeyOf(recipientPrivateKey));
        try
        {
            var plaintext = new byte[sealedBytes.Length - TagLength];
            using var aes = new AesGcm(key, TagLength);
            aes.Decrypt(nonce, sealedBytes.AsSpan(0, plaintext.Length), sealedBytes.AsSpan(plaintext.Length), plaintext);
            return plaintext;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(key);
        }
    }

    /// <summary>A new X25519 key pair (raw 32-byte private scalar and public u-coordinate).</summary>
    public static (byte[] PrivateKey, byte[] PublicKey) GenerateKeyPair()
    {
        var privateKey = RandomNumberGenerator.GetBytes(KeyLength);
        return (privateKey, PublicKeyOf(privateKey));
    }

    public static byte[] PublicKeyOf(ReadOnlySpan<byte> privateKey)
    {
        RequireLength(privateKey, KeyLength, "private key");
        var publicKey = new byte[KeyLength];
        X25519.ScalarMultBase(privateKey.ToArray(), 0, publicKey, 0);
        return publicKey;
    }

    /// <summary>Whether <paramref name="publicKey"/> is usable: 32 bytes and not a low-order point (which would make
    /// every shared secret zero).</summary>
    public static bool IsUsablePublicKey(ReadOnlySpan<byte> publicKey)
    {
        if (publicKey.Length != KeyLength)
        {
            return false;
        }

        var probe = RandomNumberGenerator.GetBytes(KeyLength);
        var shared = new byte[KeyLength];
        try
        {
            return X25519.CalculateAgreement(probe, 0, publicKey.ToArray(), 0, shared, 0);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(probe);
            CryptographicOperations.ZeroMemory(shared);
        }
    }

    private static byte[] Agree(ReadOnlySpan<byte> privateKey, ReadOnlySpan<byte> publicKey)
    {
        var shared = new byte[KeyLength];
        if (!X25519.CalculateAgreement(privateKey.ToArray(), 0, publicKey.ToArray(), 0, shared, 0))
        {
            throw new CryptographicException("The public key is a low-order point.");
        }

        return shared;
    }

    private static byte[] DeriveKey(byte[] shared, ReadOnlySpan<byte> ephemeralPublic, ReadOnlySpan<byte> recipientPublic)
    {
        var salt = new byte[KeyLength * 2];
        ephemeralPublic.CopyTo(salt);
        recipientPublic.CopyTo(salt.AsSpan(KeyLength));
        try
        {
            return HKDF.DeriveKey(HashAlgorithmName.SHA256, shared, 32, salt, Info);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(shared);
        }
    }

    private static void RequireLength(ReadOnlySpan<byte> value, int length, string what)
    {
        if (value.Length != length)
        {
            throw new CryptographicException($"The {what} must be {length} bytes.");
        }
    }
}

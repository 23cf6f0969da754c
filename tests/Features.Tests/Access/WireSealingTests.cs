using System.Security.Cryptography;
using System.Text;
using Capstan.Infrastructure.Crypto;
using Capstan.Tests.Support;

namespace Capstan.Features.Tests.Access;

/// <summary>The x25519-hkdf-aes-gcm wire envelope against RFC 7748's vectors and an independent computation.</summary>
public sealed class WireSealingTests
{
    // RFC 7748 §6.1.
    private static readonly byte[] AlicePrivate = Convert.FromHexString("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
    private static readonly byte[] AlicePublic = Convert.FromHexString("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
    private static readonly byte[] BobPrivate = Convert.FromHexString("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
    private static readonly byte[] BobPublic = Convert.FromHexString("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
    private static readonly byte[] Shared = Convert.FromHexString("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");

    [Fact]
    public void The_independent_x25519_reproduces_rfc_7748()
    {
        IndependentSealing.PublicKey(AlicePrivate).ShouldBe(AlicePublic);
        IndependentSealing.PublicKey(BobPrivate).ShouldBe(BobPublic);
        IndependentSealing.X25519(AlicePrivate, BobPublic).ShouldBe(Shared);
        IndependentSealing.X25519(BobPrivate, AlicePublic).ShouldBe(Shared);
        WireSealing.PublicKeyOf(AlicePrivate).ShouldBe(AlicePublic);
    }

    [Fact]
    public void Sealing_matches_a_vector_computed_independently()
    {
        var nonce = Convert.FromHexString("000102030405060708090a0b");
        var plaintext = Encoding.UTF8.GetBytes("s3cret value for the agent");

        var sealedValue = WireSealing.Seal(plaintext, BobPublic, AlicePrivate, nonce);

        // Independently: X25519 over BigInteger, HKDF spelled out with HMAC-SHA256, AES-256-GCM from BouncyCastle.
        var key = IndependentSealing.EnvelopeKey(IndependentSealing.X25519(AlicePrivate, BobPublic), AlicePublic, BobPublic);
        var expected = IndependentSealing.AesGcmSeal(key, nonce, plaintext);
        sealedValue.Algorithm.ShouldBe("x25519-hkdf-aes-gcm");
        sealedValue.EphemeralPublicKey.ShouldBe(Convert.ToBase64String(AlicePublic));
        sealedValue.Nonce.ShouldBe(Convert.ToBase64String(nonce));
        sealedValue.Ciphertext.ShouldBe(Convert.ToBase64String(expected));
        Convert.FromBase64String(sealedValue.Ciphertext).Length.ShouldBe(plaintext.Length + 16);
        IndependentSealing.Open(sealedValue.Ciphertext, sealedValue.Nonce, sealedValue.EphemeralPublicKey, BobPrivate).ShouldBe(plaintext);
    }

    [Fact]
    public void A_sealed_value_opens_only_with_the_recipients_key_and_untampered()
    {
        var (privateKey, publicKey) = WireSealing.GenerateKeyPair();
        var sealedValue = WireSealing.Seal("hello"u8, publicKey);

        WireSealing.Open(sealedValue, privateKey).ShouldBe("hello"u8.ToArray());
        Should.Throw<CryptographicException>(() => WireSealing.Open(sealedValue, RandomNumberGenerator.GetBytes(32)));
        var bytes = Convert.FromBase64String(sealedValue.Ciphertext);
        bytes[^1] ^= 1;
        Should.Throw<CryptographicException>(() => WireSealing.Open(sealedValue with { Ciphertext = Convert.ToBase64String(bytes) }, privateKey));
        Should.Throw<CryptographicException>(() => WireSealing.Open(sealedValue with { Algorithm = "x25519-xsalsa20" }, privateKey));
        WireSealing.Seal("hello"u8, publicKey).EphemeralPublicKey.ShouldNotBe(sealedValue.EphemeralPublicKey, "every value gets a fresh ephemeral key");
    }

    [Fact]
    public void Low_order_and_short_keys_are_not_usable()
    {
        WireSealing.IsUsablePublicKey(new byte[32]).ShouldBeFalse();
        WireSealing.IsUsablePublicKey([1, .. new byte[31]]).ShouldBeFalse();
        WireSealing.IsUsablePublicKey(new byte[31]).ShouldBeFalse();
        WireSealing.IsUsablePublicKey(BobPublic).ShouldBeTrue();
        Should.Throw<CryptographicException>(() => WireSealing.Seal("x"u8, new byte[32]));
    }
}

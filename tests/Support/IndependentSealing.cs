using System.Numerics;
using System.Security.Cryptography;
using System.Text;
using Org.BouncyCastle.Crypto.Engines;
using Org.BouncyCastle.Crypto.Modes;
using Org.BouncyCastle.Crypto.Parameters;

namespace Capstan.Tests.Support;

/// <summary>
/// The <c>x25519-hkdf-aes-gcm</c> wire envelope computed without the service's code path: X25519 as RFC 7748's
/// Montgomery ladder over <see cref="BigInteger"/>, HKDF-SHA256 spelled out with HMAC (RFC 5869), AES-256-GCM from
/// BouncyCastle's GCM mode. Tests use it to check the service's sealing against an independent computation and, as an
/// agent would, to open what the service sealed.
/// </summary>
public static class IndependentSealing
{
    private static readonly BigInteger P = BigInteger.Pow(2, 255) - 19;
    private static readonly BigInteger A24 = 121665;

    public static byte[] X25519(byte[] scalar, byte[] uCoordinate)
    {
        var k = (byte[])scalar.Clone();
        k[0] &= 248;
        k[31] &= 127;
        k[31] |= 64;
        var u = (byte[])uCoordinate.Clone();
        u[31] &= 127;
        var x1 = new BigInteger(u, isUnsigned: true, isBigEndian: false);
        var kk = new BigInteger(k, isUnsigned: true, isBigEndian: false);

        BigInteger x2 = 1, z2 = 0, x3 = x1, z3 = 1;
        var swap = 0;
        for (var t = 254; t >= 0; t--)
        {
            var bit = (int)((kk >> t) & 1);
            swap ^= bit;
            if (swap == 1)
            {
                (x2, x3) = (x3, x2);
                (z2, z3) = (z3, z2);
            }

            swap = bit;
            var a = Mod(x2 + z2);
            var aa = Mod(a * a);
            var b = Mod(x2 - z2);
            var bb = Mod(b * b);
            var e = Mod(aa - bb);
            var c = Mod(x3 + z3);
            var d = Mod(x3 - z3);
            var da = Mod(d * a);
            var cb = Mod(c * b);
            x3 = Mod((da + cb) * (da + cb));
            z3 = Mod(x1 * Mod((da - cb) * (da - cb)));
            x2 = Mod(aa * bb);
            z2 = Mod(e * (aa + Mod(A24 * e)));
        }

        if (swap == 1)
        {
            (x2, x3) = (x3, x2);
            (z2, z3) = (z3, z2);
        }

        var result = Mod(x2 * BigInteger.ModPow(z2, P - 2, P));
        var bytes = new byte[32];
        result.TryWriteBytes(bytes, out _, isUnsigned: true, isBigEndian: false);
        return bytes;
    }

    public static byte[] PublicKey(byte[] privateKey)
    {
        var basePoint = new byte[32];
        basePoint[0] = 9;
        return X25519(privateKey, basePoint);
    }

    public static byte[] Hkdf(byte[] ikm, byte[] salt, byte[] info, int length)
    {
        var prk = HMACSHA256.HashData(salt, ikm);
        var output = new List<byte>();
        var previous = Array.Empty<byte>();
        for (byte counter = 1; output.Count < length; counter++)
        {
            previous = HMACSHA256.HashData(prk, (byte[])[.. previous, .. info, counter]);
            output.AddRange(previous);
        }

        return [.. output.Take(length)];
    }

    /// <summary>AES-256-GCM with a 16-byte tag appended (the Go layout).</summary>
    public static byte[] AesGcmSeal(byte[] key, byte[] nonce, byte[] plaintext) => Gcm(true, key, nonce, plaintext);

    public static byte[] AesGcmOpen(byte[] key, byte[] nonce, byte[] sealedBytes) => Gcm(false, key, nonce, sealedBytes);

    /// <summary>The envelope key for an ephemeral/recipient pair, as both sides derive it.</summary>
    public static byte[] EnvelopeKey(byte[] shared, byte[] ephemeralPublic, byte[] recipientPublic) =>
        Hkdf(shared, [.. ephemeralPublic, .. recipientPublic], Encoding.ASCII.GetBytes("secrets-bridge.wrap.v1"), 32);

    /// <summary>Opens <c>{ciphertext, nonce, ephemeral_public_key}</c> (base64) with the recipient's private key.</summary>
    public static byte[] Open(string ciphertext, string nonce, string ephemeralPublicKey, byte[] recipientPrivate)
    {
        var ephemeral = Convert.FromBase64String(ephemeralPublicKey);
        var key = EnvelopeKey(X25519(recipientPrivate, ephemeral), ephemeral, PublicKey(recipientPrivate));
        return AesGcmOpen(key, Convert.FromBase64String(nonce), Convert.FromBase64String(ciphertext));
    }

    private static byte[] Gcm(bool encrypt, byte[] key, byte[] nonce, byte[] input)
    {
        var gcm = new GcmBlockCipher(new AesEngine());
        gcm.Init(encrypt, new AeadParameters(new KeyParameter(key), 128, nonce));
        var output = new byte[gcm.GetOutputSize(input.Length)];
        var written = gcm.ProcessBytes(input, 0, input.Length, output, 0);
        written += gcm.DoFinal(output, written);
        return output[..written];
    }

    private static BigInteger Mod(BigInteger value)
    {
        var result = value % P;
        return result.Sign < 0 ? result + P : result;
    }
}

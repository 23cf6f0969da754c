using System.Security.Cryptography;
using System.Text;

namespace Capstan.Infrastructure.Crypto;

/// <summary>
/// AES-256-GCM envelope encryption at rest: each value gets its own data key, which is itself sealed with the master
/// key. The associated data binds a ciphertext to where it belongs (for example <c>auth_provider:&lt;id&gt;</c>), so a
/// ciphertext copied to another row does not decrypt. Layout: version(1) | master key id(8) | key nonce(12) | sealed
/// data key(32) | key tag(16) | data nonce(12) | data tag(16) | ciphertext.
/// </summary>
public sealed class EnvelopeCipher(MasterKey masterKey)
{
    private const byte Version = 1;
    private const int HeaderLength = 1 + 8 + 12 + 32 + 16 + 12 + 16;

    public byte[] Encrypt(ReadOnlySpan<byte> plaintext, string associatedData)
    {
        var aad = Encoding.UTF8.GetBytes(associatedData);
        var dataKey = RandomNumberGenerator.GetBytes(32);
        var output = new byte[HeaderLength + plaintext.Length];
        var span = output.AsSpan();
        span[0] = Version;
        masterKey.CurrentIdBytes.CopyTo(span[1..9]);

        var keyNonce = span[9..21];
        RandomNumberGenerator.Fill(keyNonce);
        using (var keyCipher = new AesGcm(masterKey.Current, 16))
        {
            keyCipher.Encrypt(keyNonce, dataKey, span[21..53], span[53..69], aad);
        }

        var dataNonce = span[69..81];
        RandomNumberGenerator.Fill(dataNonce);
        using (var dataCipher = new AesGcm(dataKey, 16))
        {
            dataCipher.Encrypt(dataNonce, plaintext, span[HeaderLength..], span[81..97], aad);
        }

        CryptographicOperations.ZeroMemory(dataKey);
        return output;
    }

    public byte[] Decrypt(ReadOnlySpan<byte> envelope, string associatedData)
    {
        if (envelope.Length < HeaderLength || envelope[0] != Version)
        {
            throw new CryptographicException("Not an envelope this service wrote.");
        }

        var aad = Encoding.UTF8.GetBytes(associatedData);
        var key = masterKey.ById(envelope[1..9]);
        var dataKey = new byte[32];
        try
        {
            using (var keyCipher = new AesGcm(key, 16))
            {
                keyCipher.Decrypt(envelope[9..21], envelope[21..53], envelope[53..69], dataKey, aad);
            }

            var plaintext = new byte[envelope.Length - HeaderLength];
            using var dataCipher = new AesGcm(dataKey, 16);
            dataCipher.Decrypt(envelope[69..81], envelope[HeaderLength..], envelope[81..97], plaintext, aad);
            return plaintext;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(dataKey);
        }
    }

    public byte[] EncryptString(string plaintext, string associatedData) => Encrypt(Encoding.UTF8.GetBytes(plaintext), associatedData);

    public string DecryptString(ReadOnlySpan<byte> envelope, string associatedData) => Encoding.UTF8.GetString(Decrypt(envelope, associatedData));
}

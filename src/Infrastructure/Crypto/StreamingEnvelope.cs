using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace Capstan.Infrastructure.Crypto;

/// <summary>
/// Envelope encryption for data too large for memory (backups): a fresh data key, sealed with the master key by
/// <see cref="EnvelopeCipher"/>, encrypts the stream in 1 MiB AES-256-GCM chunks. Each chunk's associated data
/// carries its index and whether it is the last, so reordered, dropped or truncated chunks fail to decrypt.
/// Layout: "CAPSE1\0\0" | sealed key length (4) | sealed key | chunks of [final(1) | length(4) | nonce(12) | tag(16) | ciphertext].
/// </summary>
public sealed class StreamingEnvelope(EnvelopeCipher keyCipher)
{
    private const int ChunkSize = 1 << 20;
    private static readonly byte[] Magic = "CAPSE1\0\0"u8.ToArray();

    public static bool LooksEncrypted(ReadOnlySpan<byte> header) => header.Length >= Magic.Length && header[..Magic.Length].SequenceEqual(Magic);

    public async Task EncryptAsync(Stream input, Stream output, string associatedData, CancellationToken cancellationToken)
    {
        var dataKey = RandomNumberGenerator.GetBytes(32);
        try
        {
            var sealedKey = keyCipher.Encrypt(dataKey, associatedData + ":key");
            await output.WriteAsync(Magic, cancellationToken);
            await output.WriteAsync(BigEndian(sealedKey.Length), cancellationToken);
            await output.WriteAsync(sealedKey, cancellationToken);

            using var aes = new AesGcm(dataKey, 16);
            var current = new byte[ChunkSize];
            var next = new byte[ChunkSize];
            var currentLength = await FillAsync(input, current, cancellationToken);
            long index = 0;
            while (true)
            {
                var nextLength = currentLength == ChunkSize ? await FillAsync(input, next, cancellationToken) : 0;
                var final = currentLength < ChunkSize || nextLength == 0;
                var nonce = RandomNumberGenerator.GetBytes(12);
                var tag = new byte[16];
                var ciphertext = new byte[currentLength];
                aes.Encrypt(nonce, current.AsSpan(0, currentLength), ciphertext, tag, ChunkData(associatedData, index, final));
                await output.WriteAsync(new[] { final ? (byte)1 : (byte)0 }, cancellationToken);
                await output.WriteAsync(BigEndian(currentLength), cancellationToken);
                await output.WriteAsync(nonce, cancellationToken);
                await output.WriteAsync(tag, cancellationToken);
                await output.WriteAsync(ciphertext, cancellationToken);
                if (final)
                {
                    break;
                }

                (current, next) = (next, current);
                currentLength = nextLength;
                index++;
            }
        }
        finally
        {
            CryptographicOperations.ZeroMemory(dataKey);
        }
    }

    public async Task DecryptAsync(Stream input, Stream output, string associatedData, CancellationToken cancellationToken)
    {
        var magic = new byte[Magic.Length];
        await ReadExactlyAsync(input, magic, cancellationToken);
        if (!LooksEncrypted(magic))
        {
            throw new CryptographicException("Not a stream this service encrypted.");
        }

        var lengthBytes = new byte[4];
        await ReadExactlyAsync(input, lengthBytes, cancellationToken);
        var sealedLength = BinaryPrimitives.ReadInt32BigEndian(lengthBytes);
        if (sealedLength is < 1 or > 4096)
        {
            throw new CryptographicException("Corrupt encrypted stream header.");
        }

        var sealedKey = new byte[sealedLength];
        await ReadExactlyAsync(input, sealedKey, cancellationToken);
        var dataKey = keyCipher.Decrypt(sealedKey, associatedData + ":key");
        try
        {
            using var aes = new AesGcm(dataKey, 16);
            var header = new byte[1 + 4 + 12 + 16];
            for (long index = 0; ; index++)
            {
                await ReadExactlyAsync(input, header, cancellationToken);
                var final = header[0] == 1;
                var length = BinaryPrimitives.ReadInt32BigEndian(header.AsSpan(1, 4));
                if (length is < 0 or > ChunkSize)
                {
                    throw new CryptographicException("Corrupt encrypted chunk.");
                }

                var ciphertext = new byte[length];
                await ReadExactlyAsync(input, ciphertext, cancellationToken);
                var plaintext = new byte[length];
                aes.Decrypt(header.AsSpan(5, 12), ciphertext, header.AsSpan(17, 16), plaintext, ChunkData(associatedData, index, final));
                await output.WriteAsync(plaintext, cancellationToken);
                if (final)
                {
                    return;
                }
            }
        }
        finally
        {
            CryptographicOperations.ZeroMemory(dataKey);
        }
    }

    private static byte[] ChunkData(string associatedData, long index, bool final) =>
        Encoding.UTF8.GetBytes($"{associatedData}|{index}|{(final ? 1 : 0)}");

    private static byte[] BigEndian(int value)
    {
        var bytes = new byte[4];
        BinaryPrimitives.WriteInt32BigEndian(bytes, value);
        return bytes;
    }

    private static async Task<int> FillAsync(Stream input, byte[] buffer, CancellationToken cancellationToken)
    {
        var total = 0;
        while (total < buffer.Length)
        {
            var read = await input.ReadAsync(buffer.AsMemory(total), cancellationToken);
            if (read == 0)
            {
                break;
            }

            total += read;
        }

        return total;
    }

    private static async Task ReadExactlyAsync(Stream input, byte[] buffer, CancellationToken cancellationToken)
    {
        try
        {
            await input.ReadExactlyAsync(buffer, cancellationToken);
        }
        catch (EndOfStreamException)
        {
            throw new CryptographicException("The encrypted stream is truncated.");
        }
    }
}

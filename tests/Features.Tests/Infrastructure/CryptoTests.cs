using System.Security.Cryptography;
using Capstan.Infrastructure.Crypto;

namespace Capstan.Features.Tests.Infrastructure;

public sealed class CryptoTests
{
    private static readonly MasterKey Key = MasterKey.FromBytes(RandomNumberGenerator.GetBytes(32));
    private readonly EnvelopeCipher _cipher = new(Key);

    [Fact]
    public void Envelope_round_trips_and_binds_its_associated_data()
    {
        var sealedValue = _cipher.EncryptString("s3cret", "auth_provider:1");

        _cipher.DecryptString(sealedValue, "auth_provider:1").ShouldBe("s3cret");
        Should.Throw<CryptographicException>(() => _cipher.Decrypt(sealedValue, "auth_provider:2"));
        sealedValue[^1] ^= 1;
        Should.Throw<CryptographicException>(() => _cipher.Decrypt(sealedValue, "auth_provider:1"));
    }

    [Fact]
    public void A_rotated_master_key_still_decrypts_with_the_previous_one_configured()
    {
        var old = MasterKey.FromBytes(RandomNumberGenerator.GetBytes(32));
        var sealedValue = new EnvelopeCipher(old).EncryptString("value", "x");

        new EnvelopeCipher(MasterKey.FromBytes(RandomNumberGenerator.GetBytes(32), old.Current)).DecryptString(sealedValue, "x").ShouldBe("value");
        Should.Throw<CryptographicException>(() => new EnvelopeCipher(MasterKey.FromBytes(RandomNumberGenerator.GetBytes(32))).Decrypt(sealedValue, "x"));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(1 << 20)]
    [InlineData((3 << 20) + 17)]
    public async Task Streams_round_trip_at_every_chunk_boundary(int size)
    {
        var plaintext = RandomNumberGenerator.GetBytes(size);
        var envelope = new StreamingEnvelope(_cipher);
        using var sealedStream = new MemoryStream();
        await envelope.EncryptAsync(new MemoryStream(plaintext), sealedStream, "backup", CancellationToken.None);

        using var output = new MemoryStream();
        await envelope.DecryptAsync(new MemoryStream(sealedStream.ToArray()), output, "backup", CancellationToken.None);

        output.ToArray().ShouldBe(plaintext);
    }

    [Fact]
    public async Task Truncated_or_tampered_streams_fail()
    {
        var envelope = new StreamingEnvelope(_cipher);
        using var sealedStream = new MemoryStream();
        await envelope.EncryptAsync(new MemoryStream(RandomNumberGenerator.GetBytes((2 << 20) + 5)), sealedStream, "backup", CancellationToken.None);
        var bytes = sealedStream.ToArray();
        var truncated = bytes[..((1 << 20) + 200)];
        var tampered = (byte[])bytes.Clone();
        tampered[^3] ^= 0x40;

        await Should.ThrowAsync<CryptographicException>(() => envelope.DecryptAsync(new MemoryStream(truncated), Stream.Null, "backup", CancellationToken.None));
        await Should.ThrowAsync<CryptographicException>(() => envelope.DecryptAsync(new MemoryStream(tampered), Stream.Null, "backup", CancellationToken.None));
        await Should.ThrowAsync<CryptographicException>(() => envelope.DecryptAsync(new MemoryStream(bytes), Stream.Null, "other", CancellationToken.None));
    }
}

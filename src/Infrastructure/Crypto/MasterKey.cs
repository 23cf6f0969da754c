using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

namespace Capstan.Infrastructure.Crypto;

/// <summary>
/// The key every other key derives from: <c>CAPSTAN_MASTER_KEY</c> (32 bytes, base64 or hex). Without it a development
/// key is generated once under <c>.data/master.key</c> with a warning. <c>CAPSTAN_MASTER_KEY_PREVIOUS</c> (comma
/// separated) keeps older keys able to decrypt after a rotation.
/// </summary>
public sealed class MasterKey
{
    private readonly Dictionary<string, byte[]> _byId;

    private MasterKey(byte[] current, IEnumerable<byte[]> previous)
    {
        Current = current;
        CurrentId = IdOf(current);
        _byId = previous.Append(current).ToDictionary(IdOf, key => key);
    }

    public byte[] Current { get; }

    /// <summary>Eight bytes naming the key inside ciphertexts (a hash, never the key).</summary>
    public byte[] CurrentIdBytes => Convert.FromHexString(CurrentId);

    public string CurrentId { get; }

    public static MasterKey FromBytes(byte[] current, params byte[][] previous) => new(current, previous);

    public static MasterKey Load(IConfiguration configuration, string dataDirectory, ILogger logger)
    {
        var previous = (configuration["CAPSTAN_MASTER_KEY_PREVIOUS"] ?? string.Empty)
            .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(value => Decode(value, "CAPSTAN_MASTER_KEY_PREVIOUS"))
            .ToList();
        var configured = configuration["CAPSTAN_MASTER_KEY"] ?? configuration["Crypto:MasterKey"];
        if (!string.IsNullOrWhiteSpace(configured))
        {
            return new MasterKey(Decode(configured, "CAPSTAN_MASTER_KEY"), previous);
        }

        var path = Path.Combine(dataDirectory, "master.key");
        if (!File.Exists(path))
        {
            Directory.CreateDirectory(dataDirectory);
            File.WriteAllText(path, Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)));
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            }
        }

        logger.LogWarning(
            "CAPSTAN_MASTER_KEY is not set: using the development key in {Path}. Set a 32-byte key (base64) in production",
            path);
        return new MasterKey(Decode(File.ReadAllText(path).Trim(), path), previous);
    }

    public byte[] ById(ReadOnlySpan<byte> id) =>
        _byId.TryGetValue(Convert.ToHexString(id), out var key)
            ? key
            : throw new CryptographicException("The data was encrypted with a master key this service does not have.");

    /// <summary>A sub-key for one purpose (JWT signing, CSRF tokens…), so no two uses share a key.</summary>
    public byte[] Derive(string purpose) =>
        HKDF.DeriveKey(HashAlgorithmName.SHA256, Current, 32, salt: [], info: Encoding.UTF8.GetBytes("capstan:" + purpose));

    private static string IdOf(byte[] key) => Convert.ToHexString(SHA256.HashData(key).AsSpan(0, 8));

    private static byte[] Decode(string value, string source)
    {
        var trimmed = value.Trim();
        byte[]? bytes = null;
        if (trimmed.Length == 64 && trimmed.All(Uri.IsHexDigit))
        {
            bytes = Convert.FromHexString(trimmed);
        }
        else
        {
            try
            {
                bytes = Convert.FromBase64String(trimmed);
            }
            catch (FormatException)
            {
            }
        }

        return bytes is { Length: 32 } ? bytes : throw new InvalidOperationException($"{source} must be 32 bytes, base64 or hex encoded.");
    }
}

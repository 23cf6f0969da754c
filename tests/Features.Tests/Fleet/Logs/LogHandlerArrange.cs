using System.Text;
using Capstan.Tests.Support;

namespace Capstan.Features.Tests.Fleet.Logs;

/// <summary>Arrange-helpers of the log slices' handler tests: stored log lines, and a response body that records
/// what a live tail writes so a test can wait for a frame.</summary>
internal static class LogHandlerArrange
{
    public static async Task<Guid> LogAsync(
        this ApiFixture fixture, Guid instance, string level, string source, string message, DateTime at, Guid? deployment = null, string? metadata = null)
    {
        var id = Guid.CreateVersion7();
        await fixture.ExecuteAsync(
            """
            INSERT INTO fleet.logs (id, instance_id, level, source, message, metadata, deployment_id, logged_at)
            VALUES (@Id, @Instance, @Level, @Source, @Message, CAST(@Metadata AS jsonb), @Deployment, @At)
            """,
            new { Id = id, Instance = instance, Level = level, Source = source, Message = message, Metadata = metadata, Deployment = deployment, At = at });
        return id;
    }
}

/// <summary>A response body that keeps what was written (thread-safe) and lets a test wait for some text.</summary>
internal sealed class CapturedBody : Stream
{
    private readonly StringBuilder _text = new();
    private readonly Lock _gate = new();

    public string Text
    {
        get
        {
            lock (_gate)
            {
                return _text.ToString();
            }
        }
    }

    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    /// <summary>Polls until <paramref name="expected"/> was written (or the token ends the wait).</summary>
    public async Task WaitForAsync(string expected, CancellationToken cancellationToken)
    {
        while (!Text.Contains(expected, StringComparison.Ordinal))
        {
            await Task.Delay(20, cancellationToken);
        }
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        lock (_gate)
        {
            _text.Append(Encoding.UTF8.GetString(buffer));
        }
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
    {
        Write(buffer.AsSpan(offset, count));
        return Task.CompletedTask;
    }

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        Write(buffer.Span);
        return ValueTask.CompletedTask;
    }

    public override void Flush()
    {
    }

    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();
}

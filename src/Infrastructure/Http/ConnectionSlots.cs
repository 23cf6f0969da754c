using System.Collections.Concurrent;

namespace Capstan.Infrastructure.Http;

/// <summary>
/// Caps concurrent long-lived connections (SSE streams, WebSockets) per key, such as a session or a user, in this
/// replica: <see cref="TryAcquire"/> hands out a slot to dispose when the connection ends, or null at the cap.
/// </summary>
public sealed class ConnectionSlots
{
    private readonly ConcurrentDictionary<string, int> _counts = new(StringComparer.Ordinal);

    public IDisposable? TryAcquire(string key, int limit)
    {
        while (true)
        {
            var current = _counts.GetOrAdd(key, 0);
            if (current >= limit)
            {
                return null;
            }

            if (_counts.TryUpdate(key, current + 1, current))
            {
                return new Slot(this, key);
            }
        }
    }

    public int Count(string key) => _counts.TryGetValue(key, out var count) ? count : 0;

    private void Release(string key)
    {
        while (_counts.TryGetValue(key, out var current))
        {
            if (current <= 1 ? _counts.TryRemove(new KeyValuePair<string, int>(key, current)) : _counts.TryUpdate(key, current - 1, current))
            {
                return;
            }
        }
    }

    private sealed class Slot(ConnectionSlots owner, string key) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                owner.Release(key);
            }
        }
    }
}

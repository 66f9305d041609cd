using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Retro.Core;
using Retro.Core.Options;
using Retro.VectorStore.Qdrant.StandIn;

namespace Retro.VectorStore.Qdrant.Tests.Support;

/// <summary>Options and factories shared by the tests.</summary>
internal static class TestSupport
{
    /// <summary>Retries without real waiting (1 ms base delay) and a circuit that needs many calls to open.</summary>
    public static QdrantOptions FastRetries(int maxRetries = 3) => new()
    {
        GrpcPort = 0, // the stand-in serves gRPC on its url's port
        MaxRetries = maxRetries,
        RetryBaseDelayMs = 1,
        MaxRetryAfterSeconds = 0,
        CircuitBreakerMinimumThroughput = 1000,
    };

    public static VectorStoreOptions Store(Uri url, string? apiKey = null, int timeoutSeconds = 30) => new()
    {
        Provider = VectorStoreProvider.Qdrant,
        QdrantUrl = url.ToString(),
        ApiKey = apiKey,
        TimeoutSeconds = timeoutSeconds,
    };

    /// <summary>A connection to <paramref name="standIn"/> with its api-key unless another is given.</summary>
    public static QdrantConnection Connect(QdrantStandIn standIn, QdrantOptions? options = null, string? apiKey = null, ILoggerFactory? loggers = null,
        TimeProvider? time = null, int timeoutSeconds = 30)
        => QdrantConnection.Open(Store(standIn.Url, apiKey ?? standIn.ApiKey, timeoutSeconds), options ?? FastRetries(), loggers, time);

    /// <summary>A store over the stand-in, its collection ensured.</summary>
    public static async Task<QdrantVectorStore> StoreAsync(QdrantStandIn standIn, CollectionSpec spec, QdrantOptions? options = null)
    {
        options ??= FastRetries();
        var store = new QdrantVectorStore(Connect(standIn, options), options, ownsConnection: true);
        await store.EnsureCollectionAsync(spec);
        return store;
    }

    /// <summary>Ensures <paramref name="spec"/> on a reopened <paramref name="store"/>; on failure disposes it and rethrows.</summary>
    public static async Task<IVectorStore> EnsureOrDisposeAsync(QdrantVectorStore store, CollectionSpec spec)
    {
        try
        {
            await store.EnsureCollectionAsync(spec);
            return store;
        }
        catch
        {
            await store.DisposeAsync();
            throw;
        }
    }

    /// <summary>The calls of <paramref name="standIn"/> to <paramref name="method"/> (e.g. <c>Points/Upsert</c>) with their requests parsed.</summary>
    public static List<JsonElement> Requests(QdrantStandIn standIn, string method)
        => [.. standIn.Calls.Where(c => c.Method == "/qdrant." + method).Select(c => JsonDocument.Parse(c.RequestJson).RootElement)];

    public static Chunk Chunk(string document, int ordinal, string text = "", string title = "", Dictionary<string, string>? metadata = null)
        => new(ChunkId.From(document, ordinal), document, "", ordinal, text.Length > 0 ? text : $"text {ordinal}", [ordinal], "", [], metadata ?? [])
        {
            Title = title,
        };
}

/// <summary>A logger that keeps every formatted message and every structured value.</summary>
internal sealed class CapturingLogger : ILogger, ILoggerFactory
{
    public ConcurrentQueue<string> Lines { get; } = new();

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        var line = $"{logLevel} {formatter(state, exception)} {exception}";
        if (state is IEnumerable<KeyValuePair<string, object?>> values)
            line += " " + string.Join(", ", values.Select(v => $"{v.Key}={v.Value}"));
        Lines.Enqueue(line);
    }

    public ILogger CreateLogger(string categoryName) => this;

    public void AddProvider(ILoggerProvider provider) { }

    public void Dispose() { }
}

/// <summary>
/// A clock whose timers shorter than <see cref="FireBelow"/> fire at once (and are recorded), while longer ones never
/// fire: retry delays cost no time and can be asserted, and a long per-attempt timeout stays out of the way.
/// </summary>
internal sealed class InstantTimeProvider(TimeSpan fireBelow) : TimeProvider
{
    public TimeSpan FireBelow { get; } = fireBelow;

    public ConcurrentQueue<TimeSpan> Fired { get; } = new();

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = new InstantTimer(this, callback, state);
        timer.Change(dueTime, period);
        return timer;
    }

    /// <summary>Fires once, at once, when armed (by creation or <see cref="Change"/>, as CancelAfter does) below the threshold.</summary>
    private sealed class InstantTimer(InstantTimeProvider owner, TimerCallback callback, object? state) : ITimer
    {
        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            if (dueTime != Timeout.InfiniteTimeSpan && dueTime < owner.FireBelow)
            {
                owner.Fired.Enqueue(dueTime);
                ThreadPool.QueueUserWorkItem(_ => callback(state));
            }
            return true;
        }

        public void Dispose() { }
        public ValueTask DisposeAsync() => default;
    }
}

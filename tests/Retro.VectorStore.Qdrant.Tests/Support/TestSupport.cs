using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Retro.Core;
using Retro.VectorStore.Qdrant.Tests.Emulator;

namespace Retro.VectorStore.Qdrant.Tests.Support;

/// <summary>Options and factories shared by the tests.</summary>
internal static class TestSupport
{
    public const string Url = "http://qdrant.test:6333";

    /// <summary>Retries without real waiting (1 ms base delay) and a circuit that needs many calls to open.</summary>
    public static QdrantOptions FastRetries(int maxRetries = 3) => new()
    {
        MaxRetries = maxRetries,
        RetryBaseDelayMs = 1,
        MaxRetryAfterSeconds = 0,
        CircuitBreakerMinimumThroughput = 1000,
    };

    public static VectorStoreOptions Store(string? apiKey = null, int timeoutSeconds = 30) => new()
    {
        Provider = VectorStoreProvider.Qdrant,
        QdrantUrl = Url,
        ApiKey = apiKey,
        TimeoutSeconds = timeoutSeconds,
    };

    /// <summary>A client over <paramref name="handler"/>.</summary>
    public static QdrantClient Client(HttpMessageHandler handler, QdrantOptions? options = null, string? apiKey = null,
        ILogger? logger = null, TimeProvider? time = null, int timeoutSeconds = 30)
        => new(new HttpClient(handler, disposeHandler: false) { Timeout = Timeout.InfiniteTimeSpan }, Store(apiKey, timeoutSeconds),
            options ?? FastRetries(), logger, time, ownsHttp: true);

    /// <summary>A store over the emulator, its collection ensured.</summary>
    public static async Task<QdrantVectorStore> StoreAsync(QdrantEmulator emulator, CollectionSpec spec, QdrantOptions? options = null, string? apiKey = null)
    {
        options ??= FastRetries();
        var store = new QdrantVectorStore(Client(emulator, options, apiKey), options, ownsClient: true);
        await store.EnsureCollectionAsync(spec);
        return store;
    }
}

/// <summary>A logger that keeps every formatted message and every structured value.</summary>
internal sealed class CapturingLogger : ILogger
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

/// <summary>Answers requests from a script (one function per attempt, the last one repeating) and counts them.</summary>
internal sealed class ScriptedHandler(params Func<HttpRequestMessage, CancellationToken, Task<HttpResponseMessage>>[] script) : HttpMessageHandler
{
    private int _calls;

    public int Calls => Volatile.Read(ref _calls);

    public ConcurrentQueue<HttpRequestMessage> Received { get; } = new();

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        int call = Interlocked.Increment(ref _calls) - 1;
        Received.Enqueue(request);
        return script[Math.Min(call, script.Length - 1)](request, cancellationToken);
    }

    public static Func<HttpRequestMessage, CancellationToken, Task<HttpResponseMessage>> Reply(System.Net.HttpStatusCode status, string body, string mediaType = "application/json", Action<HttpResponseMessage>? configure = null)
        => (_, _) =>
        {
            var response = new HttpResponseMessage(status) { Content = new StringContent(body, System.Text.Encoding.UTF8, mediaType) };
            configure?.Invoke(response);
            return Task.FromResult(response);
        };

    public static Func<HttpRequestMessage, CancellationToken, Task<HttpResponseMessage>> Throw(Exception e) => (_, _) => Task.FromException<HttpResponseMessage>(e);

    /// <summary>Never answers: waits until the request is cancelled (a hung server).</summary>
    public static Func<HttpRequestMessage, CancellationToken, Task<HttpResponseMessage>> Hang()
        => async (_, ct) =>
        {
            await Task.Delay(Timeout.Infinite, ct);
            throw new InvalidOperationException("unreachable");
        };
}

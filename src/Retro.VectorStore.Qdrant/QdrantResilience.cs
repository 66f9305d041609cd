using System.Net;
using Microsoft.Extensions.Logging;
using Polly;
using Polly.CircuitBreaker;
using Polly.Retry;
using Polly.Timeout;

namespace Retro.VectorStore.Qdrant;

/// <summary>
/// The client's resilience pipeline, outermost first: retry (exponential backoff with jitter, <c>Retry-After</c>
/// honoured) → circuit breaker (opens on timeouts, connection errors and 502/503/504) → per-attempt timeout.
/// </summary>
internal static class QdrantResilience
{
    /// <summary>Method and path of the request in flight, for logs (never headers: the API key stays out).</summary>
    public static readonly ResiliencePropertyKey<string> Operation = new("qdrant.operation");

    public static ResiliencePipeline<HttpResponseMessage> Build(QdrantOptions options, TimeSpan attemptTimeout, TimeProvider timeProvider, ILogger logger)
    {
        var builder = new ResiliencePipelineBuilder<HttpResponseMessage> { TimeProvider = timeProvider };
        if (options.MaxRetries > 0)
        {
            var maxRetryAfter = TimeSpan.FromSeconds(options.MaxRetryAfterSeconds);
            builder.AddRetry(new RetryStrategyOptions<HttpResponseMessage>
            {
                MaxRetryAttempts = options.MaxRetries,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = TimeSpan.FromMilliseconds(options.RetryBaseDelayMs),
                MaxDelay = TimeSpan.FromSeconds(Math.Max(30, options.MaxRetryAfterSeconds)),
                ShouldHandle = args => ValueTask.FromResult(IsRetryable(args.Outcome)),
                DelayGenerator = args => ValueTask.FromResult(RetryAfter(args.Outcome.Result, maxRetryAfter, timeProvider)),
                OnRetry = args =>
                {
                    string operation = args.Context.Properties.GetValue(Operation, "?");
                    string reason = args.Outcome.Exception is { } e ? e.GetType().Name : $"{(int)args.Outcome.Result!.StatusCode}";
                    Log.Retrying(logger, operation, args.AttemptNumber + 1, reason, args.RetryDelay);
                    return default;
                },
            });
        }
        builder.AddCircuitBreaker(new CircuitBreakerStrategyOptions<HttpResponseMessage>
        {
            FailureRatio = options.CircuitBreakerFailureRatio,
            MinimumThroughput = options.CircuitBreakerMinimumThroughput,
            SamplingDuration = TimeSpan.FromSeconds(options.CircuitBreakerSamplingSeconds),
            BreakDuration = TimeSpan.FromSeconds(options.CircuitBreakerBreakSeconds),
            ShouldHandle = args => ValueTask.FromResult(IsUnavailable(args.Outcome)),
            OnOpened = args =>
            {
                Log.CircuitOpened(logger, args.BreakDuration);
                return default;
            },
        });
        builder.AddTimeout(attemptTimeout);
        return builder.Build();
    }

    /// <summary>Worth another attempt: the server is unreachable, slow, overloaded or failed internally.</summary>
    public static bool IsRetryable(Outcome<HttpResponseMessage> outcome) => outcome.Exception switch
    {
        null => outcome.Result is { } response && (response.StatusCode == HttpStatusCode.TooManyRequests || (int)response.StatusCode >= 500),
        var e => IsTransientException(e),
    };

    /// <summary>Counts against the circuit: the server is unreachable or says it is unavailable.</summary>
    public static bool IsUnavailable(Outcome<HttpResponseMessage> outcome) => outcome.Exception switch
    {
        null => outcome.Result is { } response && IsUnavailableStatus(response.StatusCode),
        var e => IsTransientException(e),
    };

    /// <summary>Statuses that mean "not now" rather than "wrong request".</summary>
    public static bool IsUnavailableStatus(HttpStatusCode status)
        => status is HttpStatusCode.BadGateway or HttpStatusCode.ServiceUnavailable or HttpStatusCode.GatewayTimeout or HttpStatusCode.TooManyRequests;

    /// <summary>Connection failures and timeouts (Polly's per-attempt timeout or HttpClient's own).</summary>
    public static bool IsTransientException(Exception e) => e is HttpRequestException or TimeoutRejectedException or TimeoutException
        || (e is TaskCanceledException && e.InnerException is TimeoutException);

    /// <summary>The wait a 429/503 asks for (delta or date), capped; null = use the exponential backoff.</summary>
    public static TimeSpan? RetryAfter(HttpResponseMessage? response, TimeSpan max, TimeProvider timeProvider)
    {
        if (response?.Headers.RetryAfter is not { } retryAfter) return null;
        TimeSpan? wait = retryAfter.Delta ?? (retryAfter.Date is { } date ? date - timeProvider.GetUtcNow() : null);
        if (wait is not { } w) return null;
        if (w < TimeSpan.Zero) w = TimeSpan.Zero;
        return w > max ? max : w;
    }
}

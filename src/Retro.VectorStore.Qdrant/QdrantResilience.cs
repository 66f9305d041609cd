using System.Globalization;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using Polly;
using Polly.CircuitBreaker;
using Polly.Retry;
using Polly.Timeout;

namespace Retro.VectorStore.Qdrant;

/// <summary>
/// The calls' resilience pipeline, outermost first: retry (exponential backoff with jitter, Qdrant's
/// <c>retry-after</c> trailer honoured) → circuit breaker (opens on timeouts, <c>UNAVAILABLE</c>,
/// <c>DEADLINE_EXCEEDED</c>, <c>RESOURCE_EXHAUSTED</c>) → per-attempt timeout.
/// </summary>
internal static class QdrantResilience
{
    /// <summary>Service and method of the call in flight, for logs (never metadata: the API key stays out).</summary>
    public static readonly ResiliencePropertyKey<string> Operation = new("qdrant.operation");

    /// <summary>Qdrant's trailer on <c>RESOURCE_EXHAUSTED</c>: whole seconds to wait (its REST twin is <c>Retry-After</c>).</summary>
    public const string RetryAfterTrailer = "retry-after";

    public static ResiliencePipeline Build(QdrantOptions options, TimeSpan attemptTimeout, TimeProvider timeProvider, ILogger logger)
    {
        var builder = new ResiliencePipelineBuilder { TimeProvider = timeProvider };
        if (options.MaxRetries > 0)
        {
            var maxRetryAfter = TimeSpan.FromSeconds(options.MaxRetryAfterSeconds);
            builder.AddRetry(new RetryStrategyOptions
            {
                MaxRetryAttempts = options.MaxRetries,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = TimeSpan.FromMilliseconds(options.RetryBaseDelayMs),
                MaxDelay = TimeSpan.FromSeconds(Math.Max(30, options.MaxRetryAfterSeconds)),
                ShouldHandle = args => ValueTask.FromResult(args.Outcome.Exception is { } e && IsRetryable(e)),
                DelayGenerator = args => ValueTask.FromResult(RetryAfter(args.Outcome.Exception, maxRetryAfter)),
                OnRetry = args =>
                {
                    string operation = args.Context.Properties.GetValue(Operation, "?");
                    Log.Retrying(logger, operation, args.AttemptNumber + 1, Reason(args.Outcome.Exception), args.RetryDelay);
                    return default;
                },
            });
        }
        builder.AddCircuitBreaker(new CircuitBreakerStrategyOptions
        {
            FailureRatio = options.CircuitBreakerFailureRatio,
            MinimumThroughput = options.CircuitBreakerMinimumThroughput,
            SamplingDuration = TimeSpan.FromSeconds(options.CircuitBreakerSamplingSeconds),
            BreakDuration = TimeSpan.FromSeconds(options.CircuitBreakerBreakSeconds),
            ShouldHandle = args => ValueTask.FromResult(args.Outcome.Exception is { } e && IsUnavailable(e)),
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
    public static bool IsRetryable(Exception e) => e switch
    {
        RpcException rpc => rpc.StatusCode is StatusCode.Unavailable or StatusCode.DeadlineExceeded or StatusCode.ResourceExhausted
            or StatusCode.Internal or StatusCode.Aborted,
        _ => IsTransientException(e),
    };

    /// <summary>Counts against the circuit: the server is unreachable or says it is unavailable.</summary>
    public static bool IsUnavailable(Exception e) => e switch
    {
        RpcException rpc => IsUnavailableStatus(rpc.StatusCode) || IsTransportFailure(rpc),
        _ => IsTransientException(e),
    };

    /// <summary>Statuses that mean "not now" rather than "wrong request".</summary>
    public static bool IsUnavailableStatus(StatusCode status)
        => status is StatusCode.Unavailable or StatusCode.DeadlineExceeded or StatusCode.ResourceExhausted;

    /// <summary>
    /// A call that never reached Qdrant: the client failed below gRPC (connection, TLS handshake) and reported it as a
    /// status of its own (<c>INTERNAL</c> "Error starting gRPC call" for a refused certificate, for instance).
    /// </summary>
    public static bool IsTransportFailure(RpcException e) => e.Status.DebugException is HttpRequestException or IOException or System.Security.Authentication.AuthenticationException;

    /// <summary>Timeouts (Polly's per-attempt timeout) and transport failures below gRPC.</summary>
    public static bool IsTransientException(Exception e) => e is TimeoutRejectedException or TimeoutException or HttpRequestException or IOException;

    /// <summary>The wait a <c>RESOURCE_EXHAUSTED</c> asks for (its <c>retry-after</c> trailer, seconds), capped; null = the backoff.</summary>
    public static TimeSpan? RetryAfter(Exception? e, TimeSpan max)
    {
        if (e is not RpcException { StatusCode: StatusCode.ResourceExhausted } rpc) return null;
        string? value = rpc.Trailers.GetValue(RetryAfterTrailer);
        if (!double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out double seconds) || !double.IsFinite(seconds)) return null;
        var wait = TimeSpan.FromSeconds(Math.Max(0, Math.Min(seconds, max.TotalSeconds)));
        return wait;
    }

    private static string Reason(Exception? e) => e switch
    {
        RpcException rpc => rpc.StatusCode.ToString(),
        null => "?",
        _ => e.GetType().Name,
    };
}

using System.ComponentModel.DataAnnotations;
using System.Diagnostics;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Grpc.Net.Client;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Polly;
using Polly.CircuitBreaker;
using Polly.Timeout;
using Qdrant.Client;
using Qdrant.Client.Grpc;
using Retro.Core;
using Retro.Core.Options;

namespace Retro.VectorStore.Qdrant;

/// <summary>
/// A gRPC connection to a Qdrant server or cluster through the official <see cref="QdrantClient"/>: the channel (TLS
/// when the url is <c>https</c>, optionally pinned to a certificate thumbprint; the <c>api-key</c> metadata on every
/// call), and the resilience pipeline every call of the store goes through (retry → circuit breaker → per-attempt
/// timeout). Failures surface as <see cref="VectorStoreUnavailableException"/> (unreachable, timed out,
/// <c>UNAVAILABLE</c> / <c>DEADLINE_EXCEEDED</c> / <c>RESOURCE_EXHAUSTED</c> after the retries, circuit open) or
/// <see cref="QdrantException"/> (any other status, with Qdrant's text). Thread-safe.
/// </summary>
public sealed class QdrantConnection : IDisposable
{
    private const string ApiKeyHeader = "api-key";

    private readonly GrpcChannel? _channel;
    private readonly ResiliencePipeline _pipeline;
    private readonly TimeSpan _healthTimeout;
    private readonly ILogger _logger;

    private QdrantConnection(QdrantClient client, Uri endpoint, GrpcChannel? channel, QdrantOptions options, TimeSpan attemptTimeout, ILogger logger, TimeProvider timeProvider)
    {
        Client = client;
        Endpoint = endpoint;
        _channel = channel;
        _logger = logger;
        _healthTimeout = TimeSpan.FromSeconds(options.HealthTimeoutSeconds);
        _pipeline = QdrantResilience.Build(options, attemptTimeout, timeProvider, logger);
    }

    /// <summary>
    /// Opens a channel to the gRPC endpoint of <paramref name="store"/>'s url (see <see cref="GrpcEndpoint"/>) with its
    /// API key and per-attempt timeout, and the retry policy, TLS pinning and message limit of <paramref name="options"/>.
    /// Nothing is sent until the first call.
    /// </summary>
    /// <exception cref="ArgumentException">The options are out of range, the url is not an absolute http(s) url, or a thumbprint is set for http.</exception>
    public static QdrantConnection Open(VectorStoreOptions store, QdrantOptions? options = null, ILoggerFactory? loggerFactory = null, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        options ??= new QdrantOptions();
        var problems = new List<ValidationResult>();
        if (!Validator.TryValidateObject(options, new ValidationContext(options), problems, validateAllProperties: true))
            throw new ArgumentException($"Invalid {QdrantOptions.Section}: {string.Join("; ", problems.Select(p => p.ErrorMessage))}", nameof(options));
        var endpoint = GrpcEndpoint(store.QdrantUrl, options.GrpcPort);
        string? thumbprint = string.IsNullOrEmpty(options.CertificateThumbprint) ? null : options.CertificateThumbprint; // "" from an unset variable = none
        if (thumbprint is not null && endpoint.Scheme != Uri.UriSchemeHttps)
            throw new ArgumentException($"{QdrantOptions.Section}:CertificateThumbprint pins a TLS certificate: the url must be https.", nameof(options));
        var handler = new SocketsHttpHandler
        {
            PooledConnectionLifetime = TimeSpan.FromMinutes(2), // a cluster's DNS changes are seen
            EnableMultipleHttp2Connections = true,
            KeepAlivePingDelay = TimeSpan.FromSeconds(30),
            KeepAlivePingTimeout = TimeSpan.FromSeconds(10),
        };
        if (thumbprint is not null)
        {
            var validate = CertificateValidation.Thumbprint(thumbprint);
            handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, chain, errors) =>
                certificate is not null && validate(null!, certificate as X509Certificate2 ?? X509CertificateLoader.LoadCertificate(certificate.GetRawCertData()), chain, errors);
        }
        var channel = GrpcChannel.ForAddress(endpoint, new GrpcChannelOptions
        {
            HttpHandler = handler,
            DisposeHttpClient = true,
            MaxReceiveMessageSize = options.MaxReceiveMegabytes * 1024 * 1024,
            MaxSendMessageSize = null,
            ThrowOperationCanceledOnCancellation = true, // so that Polly tells its timeouts from the caller's cancellation
        });
        string? apiKey = string.IsNullOrEmpty(store.ApiKey) ? null : store.ApiKey;
        var invoker = channel.Intercept(metadata =>
        {
            if (apiKey is not null) metadata.Add(ApiKeyHeader, apiKey);
            return metadata;
        });
        var client = new QdrantClient(new QdrantGrpcClient(invoker), grpcTimeout: default, loggerFactory: loggerFactory);
        return new QdrantConnection(client, endpoint, channel, options, TimeSpan.FromSeconds(store.TimeoutSeconds),
            loggerFactory?.CreateLogger<QdrantConnection>() ?? NullLogger<QdrantConnection>.Instance, timeProvider ?? TimeProvider.System);
    }

    /// <summary>
    /// Qdrant's gRPC endpoint for <paramref name="qdrantUrl"/>: its scheme and host with <paramref name="grpcPort"/>
    /// (0 = the url's own port); the url's path is ignored.
    /// </summary>
    /// <exception cref="ArgumentException">The url is not an absolute http(s) url.</exception>
    public static Uri GrpcEndpoint(string qdrantUrl, int grpcPort)
    {
        if (!Uri.TryCreate(qdrantUrl, UriKind.Absolute, out var url) || (url.Scheme != Uri.UriSchemeHttp && url.Scheme != Uri.UriSchemeHttps))
            throw new ArgumentException($"Retro:VectorStore:QdrantUrl must be an absolute http(s) url, not '{qdrantUrl}'.", nameof(qdrantUrl));
        ArgumentOutOfRangeException.ThrowIfNegative(grpcPort);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(grpcPort, 65535);
        return new UriBuilder(url.Scheme, url.Host, grpcPort == 0 ? url.Port : grpcPort).Uri;
    }

    /// <summary>The official client over this connection (administration: aliases, snapshots, cluster setup).</summary>
    public QdrantClient Client { get; }

    /// <summary>The gRPC endpoint, e.g. <c>http://qdrant:6334/</c>.</summary>
    public Uri Endpoint { get; }

    /// <summary>
    /// Runs <paramref name="call"/> (one Qdrant call of <see cref="Client"/>) through the resilience pipeline and maps
    /// its failures as the class summary says. <paramref name="operation"/> names it in logs and errors.
    /// </summary>
    public async Task<T> CallAsync<T>(string operation, Func<QdrantClient, CancellationToken, Task<T>> call, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(call);
        long started = Stopwatch.GetTimestamp();
        var context = ResilienceContextPool.Shared.Get(cancellationToken);
        context.Properties.Set(QdrantResilience.Operation, operation);
        try
        {
            var result = await _pipeline.ExecuteAsync(static async (ctx, state) => await state.Call(state.Client, ctx.CancellationToken).ConfigureAwait(false),
                context, (Client, Call: call)).ConfigureAwait(false);
            Log.Answered(_logger, operation, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            return result;
        }
        catch (Exception e) when (Map(e, operation, cancellationToken) is { } mapped)
        {
            throw mapped;
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }
    }

    /// <summary>Runs a call without a result like <see cref="CallAsync{T}"/>.</summary>
    public Task CallAsync(string operation, Func<QdrantClient, CancellationToken, Task> call, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(call);
        return CallAsync(operation, async (client, ct) =>
        {
            await call(client, ct).ConfigureAwait(false);
            return true;
        }, cancellationToken);
    }

    /// <summary>
    /// Whether the server answers its health check (<c>qdrant.Qdrant/HealthCheck</c>). One attempt, no retries, a short
    /// timeout; never throws (false on any failure) unless <paramref name="cancellationToken"/> is cancelled.
    /// </summary>
    public async Task<bool> IsHealthyAsync(CancellationToken cancellationToken = default)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_healthTimeout);
        try
        {
            await Client.HealthAsync(timeout.Token).ConfigureAwait(false);
            return true;
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            Log.HealthProbeFailed(_logger, e is RpcException rpc ? rpc.StatusCode.ToString() : e.GetType().Name);
            return false;
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        Client.Dispose();
        _channel?.Dispose();
    }

    /// <summary>The product's exception for a failed call; null = let it propagate as it is (the caller's cancellation).</summary>
    private Exception? Map(Exception e, string operation, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return e is OperationCanceledException ? null : new OperationCanceledException($"Qdrant {operation} was cancelled.", e, cancellationToken);
        }
        switch (e)
        {
            case BrokenCircuitException:
                return new VectorStoreUnavailableException($"Qdrant at {Endpoint} is unavailable (circuit open after repeated failures); {operation} was not sent.", e);
            case TimeoutRejectedException:
                return new VectorStoreUnavailableException($"Qdrant at {Endpoint} did not answer {operation} in time.", e);
            case RpcException rpc when QdrantResilience.IsTransportFailure(rpc):
                return new VectorStoreUnavailableException($"Qdrant at {Endpoint} could not be reached for {operation}: {rpc.Status.Detail}", rpc);
            case RpcException rpc:
                var error = new QdrantException(rpc.StatusCode, operation, rpc.Status.Detail, rpc);
                return QdrantResilience.IsUnavailableStatus(rpc.StatusCode) || rpc.StatusCode == StatusCode.Cancelled
                    ? new VectorStoreUnavailableException($"Qdrant at {Endpoint} is unavailable: {error.Message}", error)
                    : error;
            case HttpRequestException or IOException or OperationCanceledException:
                return new VectorStoreUnavailableException($"Qdrant at {Endpoint} did not answer {operation}: {e.Message}", e);
            default:
                return null;
        }
    }
}

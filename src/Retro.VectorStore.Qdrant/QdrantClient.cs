using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Runtime.ExceptionServices;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Polly;
using Polly.CircuitBreaker;
using Retro.Core;
using Retro.VectorStore.Qdrant.Rest;

namespace Retro.VectorStore.Qdrant;

/// <summary>
/// Typed client for Qdrant's REST API (the operations Retro uses, per Qdrant's OpenAPI document 1.19). Thread-safe.
/// Every call goes through a retry → circuit breaker → per-attempt timeout pipeline. Failures surface as
/// <see cref="VectorStoreUnavailableException"/> (unreachable, timed out, 429/502/503/504 after the retries, circuit
/// open) or <see cref="QdrantException"/> (any other error status, with Qdrant's error text).
/// </summary>
public sealed partial class QdrantClient : IDisposable
{
    private const string ApiKeyHeader = "api-key";
    private static readonly MediaTypeHeaderValue JsonMediaType = new("application/json");

    private readonly HttpClient _http;
    private readonly bool _ownsHttp;
    private readonly Uri _baseAddress;
    private readonly string? _apiKey;
    private readonly TimeSpan _healthTimeout;
    private readonly long _maxRequestBytes;
    private readonly ResiliencePipeline<HttpResponseMessage> _pipeline;
    private readonly ILogger _logger;

    /// <summary>
    /// A client over <paramref name="http"/> (which it does not dispose unless <paramref name="ownsHttp"/>) for the
    /// server at <paramref name="store"/>.<see cref="VectorStoreOptions.QdrantUrl"/>, with the API key and per-attempt
    /// timeout of <paramref name="store"/> and the retry policy of <paramref name="qdrant"/>.
    /// </summary>
    public QdrantClient(HttpClient http, VectorStoreOptions store, QdrantOptions? qdrant = null, ILogger? logger = null,
        TimeProvider? timeProvider = null, bool ownsHttp = false)
    {
        ArgumentNullException.ThrowIfNull(http);
        ArgumentNullException.ThrowIfNull(store);
        if (!Uri.TryCreate(store.QdrantUrl, UriKind.Absolute, out var baseAddress) || (baseAddress.Scheme != Uri.UriSchemeHttp && baseAddress.Scheme != Uri.UriSchemeHttps))
            throw new ArgumentException($"Retro:VectorStore:QdrantUrl must be an absolute http(s) url, not '{store.QdrantUrl}'.", nameof(store));
        qdrant ??= new QdrantOptions();
        _http = http;
        _ownsHttp = ownsHttp;
        _baseAddress = new Uri(baseAddress.AbsoluteUri.TrimEnd('/') + "/");
        _apiKey = string.IsNullOrEmpty(store.ApiKey) ? null : store.ApiKey;
        _healthTimeout = TimeSpan.FromSeconds(qdrant.HealthTimeoutSeconds);
        _maxRequestBytes = qdrant.MaxRequestBytes;
        _logger = logger ?? NullLogger.Instance;
        _pipeline = QdrantResilience.Build(qdrant, TimeSpan.FromSeconds(store.TimeoutSeconds), timeProvider ?? TimeProvider.System, _logger);
    }

    /// <summary>The server's base address (always ending in '/').</summary>
    public Uri BaseAddress => _baseAddress;

    /// <summary>
    /// Whether the server is ready (<c>GET /readyz</c> answers 200: all shards ready). One attempt, no retries, a short
    /// timeout; never throws (false on any failure) unless <paramref name="cancellationToken"/> is cancelled.
    /// </summary>
    public async Task<bool> IsReadyAsync(CancellationToken cancellationToken = default)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_healthTimeout);
        try
        {
            using var request = CreateRequest(HttpMethod.Get, "readyz", body: null);
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token).ConfigureAwait(false);
            if (response.IsSuccessStatusCode) return true;
            Log.HealthProbeFailed(_logger, $"status {(int)response.StatusCode}");
            return false;
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            Log.HealthProbeFailed(_logger, e.GetType().Name);
            return false;
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_ownsHttp) _http.Dispose();
    }

    // ---------------------------------------------------------------- transport

    private static string Segment(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        return Uri.EscapeDataString(name);
    }

    private static byte[] Serialize<T>(T body, JsonTypeInfo<T> typeInfo) => JsonSerializer.SerializeToUtf8Bytes(body, typeInfo);

    private HttpRequestMessage CreateRequest(HttpMethod method, string relativePath, byte[]? body)
    {
        var request = new HttpRequestMessage(method, new Uri(_baseAddress, relativePath));
        if (_apiKey is not null) request.Headers.TryAddWithoutValidation(ApiKeyHeader, _apiKey);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        if (body is not null)
        {
            var content = new ByteArrayContent(body);
            content.Headers.ContentType = JsonMediaType;
            request.Content = content;
        }
        return request;
    }

    /// <summary>
    /// Sends one operation through the pipeline and returns its <c>result</c>. 404 gives default when
    /// <paramref name="notFoundIsDefault"/>; other errors throw as the class summary says.
    /// </summary>
    private async Task<TResult?> SendAsync<TResult>(HttpMethod method, string relativePath, byte[]? body,
        JsonTypeInfo<QdrantResponse<TResult>> responseType, CancellationToken cancellationToken, bool notFoundIsDefault = false)
    {
        string operation = $"{method.Method} /{relativePath.Split('?')[0]}";
        long started = Stopwatch.GetTimestamp();
        var context = ResilienceContextPool.Shared.Get(cancellationToken);
        context.Properties.Set(QdrantResilience.Operation, operation);
        Outcome<HttpResponseMessage> outcome;
        try
        {
            outcome = await _pipeline.ExecuteOutcomeAsync(static async (ctx, state) =>
            {
                try
                {
                    using var request = state.Client.CreateRequest(state.Method, state.Path, state.Body);
                    var response = await state.Client._http.SendAsync(request, HttpCompletionOption.ResponseContentRead, ctx.CancellationToken).ConfigureAwait(false);
                    return Outcome.FromResult(response);
                }
                catch (Exception e)
                {
                    return Outcome.FromException<HttpResponseMessage>(e);
                }
            }, context, new RequestState(this, method, relativePath, body)).ConfigureAwait(false);
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }

        if (outcome.Exception is { } exception)
        {
            if (exception is OperationCanceledException && cancellationToken.IsCancellationRequested) ExceptionDispatchInfo.Throw(exception);
            if (exception is BrokenCircuitException)
                throw new VectorStoreUnavailableException($"Qdrant at {_baseAddress} is unavailable (circuit open after repeated failures); {operation} was not sent.", exception);
            if (QdrantResilience.IsTransientException(exception) || exception is OperationCanceledException)
                throw new VectorStoreUnavailableException($"Qdrant at {_baseAddress} did not answer {operation}: {exception.Message}", exception);
            ExceptionDispatchInfo.Throw(exception);
        }

        using var response = outcome.Result!;
        Log.Answered(_logger, operation, (int)response.StatusCode, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        if (response.IsSuccessStatusCode)
        {
            var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            await using (stream.ConfigureAwait(false))
            {
                QdrantResponse<TResult>? envelope;
                try
                {
                    envelope = await JsonSerializer.DeserializeAsync(stream, responseType, cancellationToken).ConfigureAwait(false);
                }
                catch (JsonException e)
                {
                    throw new InvalidDataException($"Qdrant {operation} answered {(int)response.StatusCode} with a body that does not parse: {e.Message}", e);
                }
                if (envelope is null) throw new InvalidDataException($"Qdrant {operation} answered {(int)response.StatusCode} with an empty body.");
                return envelope.Result;
            }
        }
        if (response.StatusCode == HttpStatusCode.NotFound && notFoundIsDefault) return default;

        string error = await ReadErrorAsync(response, cancellationToken).ConfigureAwait(false);
        var qdrantError = new QdrantException(response.StatusCode, operation, error);
        if (QdrantResilience.IsUnavailableStatus(response.StatusCode))
            throw new VectorStoreUnavailableException($"Qdrant at {_baseAddress} is unavailable: {qdrantError.Message}", qdrantError);
        throw qdrantError;
    }

    /// <summary>Qdrant's error text: <c>status.error</c> of a JSON body, else the body as text (401/403 are plain text).</summary>
    private static async Task<string> ReadErrorAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        string text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        if (text.Length > 0 && text[0] == '{')
        {
            try
            {
                var body = JsonSerializer.Deserialize(text, QdrantJsonContext.Default.QdrantErrorResponse);
                if (body?.Status?.Error is { Length: > 0 } error) return error;
            }
            catch (JsonException)
            {
                // Not Qdrant's error shape: fall through to the raw text.
            }
        }
        text = text.Trim();
        return text.Length <= 2000 ? text : string.Concat(text.AsSpan(0, 2000), "…");
    }

    private sealed record RequestState(QdrantClient Client, HttpMethod Method, string Path, byte[]? Body);
}

using System.Net;
using System.Net.Http.Headers;
using Polly.Timeout;
using Retro.Core;
using Retro.VectorStore.Qdrant.Rest;
using Retro.VectorStore.Qdrant.Tests.Emulator;
using Retro.VectorStore.Qdrant.Tests.Support;

namespace Retro.VectorStore.Qdrant.Tests;

/// <summary>Retries, backoff, Retry-After, timeouts, the circuit breaker, error text and the API key.</summary>
public sealed class ResilienceTests
{
    private const string CountOk = """{"result":{"count":7},"status":"ok","time":0.001}""";

    /// <summary>Retry delays fire at once and are recorded; the (one hour) per-attempt timeout never fires.</summary>
    private static readonly TimeSpan FireBelow = TimeSpan.FromMinutes(10);

    private static QdrantOptions Retries(int maxRetries = 3, int maxRetryAfterSeconds = 30) => TestSupport.FastRetries(maxRetries) with { MaxRetryAfterSeconds = maxRetryAfterSeconds };

    [Fact]
    public async Task TooManyRequests_HonoursRetryAfterDelta()
    {
        var handler = new ScriptedHandler(
            ScriptedHandler.Reply((HttpStatusCode)429, """{"status":{"error":"Too many requests"},"time":0}""", configure: r => r.Headers.RetryAfter = new RetryConditionHeaderValue(TimeSpan.FromSeconds(2))),
            ScriptedHandler.Reply(HttpStatusCode.OK, CountOk));
        var time = new InstantTimeProvider(FireBelow);
        using var client = TestSupport.Client(handler, Retries(), time: time, timeoutSeconds: 3600);

        (await client.CountPointsAsync("c", new CountRequest())).ShouldBe(7ul);

        handler.Calls.ShouldBe(2);
        time.Fired.ShouldContain(TimeSpan.FromSeconds(2));
    }

    [Fact]
    public async Task TooManyRequests_HonoursRetryAfterDate_AndCapsLongWaits()
    {
        var handler = new ScriptedHandler(
            ScriptedHandler.Reply((HttpStatusCode)429, "slow down", "text/plain", r => r.Headers.RetryAfter = new RetryConditionHeaderValue(DateTimeOffset.UtcNow.AddSeconds(5))),
            ScriptedHandler.Reply((HttpStatusCode)429, "slow down", "text/plain", r => r.Headers.RetryAfter = new RetryConditionHeaderValue(TimeSpan.FromHours(1))),
            ScriptedHandler.Reply(HttpStatusCode.OK, CountOk));
        var time = new InstantTimeProvider(FireBelow);
        using var client = TestSupport.Client(handler, Retries(maxRetryAfterSeconds: 20), time: time, timeoutSeconds: 3600);

        (await client.CountPointsAsync("c", new CountRequest())).ShouldBe(7ul);

        handler.Calls.ShouldBe(3);
        var delays = time.Fired.ToArray();
        delays.ShouldContain(d => d > TimeSpan.FromSeconds(3) && d <= TimeSpan.FromSeconds(5), "the Retry-After date");
        delays.ShouldContain(TimeSpan.FromSeconds(20), "an hour is capped at MaxRetryAfterSeconds");
    }

    [Fact]
    public async Task ServiceUnavailable_ThenSuccess_IsRetried()
    {
        var handler = new ScriptedHandler(
            ScriptedHandler.Reply(HttpStatusCode.ServiceUnavailable, "overloaded", "text/plain"),
            ScriptedHandler.Reply(HttpStatusCode.BadGateway, "proxy", "text/plain"),
            ScriptedHandler.Reply(HttpStatusCode.OK, CountOk));
        using var client = TestSupport.Client(handler, Retries(), time: new InstantTimeProvider(FireBelow), timeoutSeconds: 3600);

        (await client.CountPointsAsync("c", new CountRequest())).ShouldBe(7ul);
        handler.Calls.ShouldBe(3);
    }

    [Fact]
    public async Task ServiceUnavailable_Always_ThrowsUnavailableAfterRetries()
    {
        var handler = new ScriptedHandler(ScriptedHandler.Reply(HttpStatusCode.ServiceUnavailable, """{"status":{"error":"Service unavailable: shards not ready"},"time":0}"""));
        using var client = TestSupport.Client(handler, Retries(maxRetries: 3), time: new InstantTimeProvider(FireBelow), timeoutSeconds: 3600);

        var e = await Should.ThrowAsync<VectorStoreUnavailableException>(() => client.CountPointsAsync("c", new CountRequest()));

        handler.Calls.ShouldBe(4, "one attempt and three retries");
        var inner = e.InnerException.ShouldBeOfType<QdrantException>();
        inner.StatusCode.ShouldBe(HttpStatusCode.ServiceUnavailable);
        inner.Error.ShouldBe("Service unavailable: shards not ready");
    }

    [Fact]
    public async Task HungServer_TimesOutPerAttempt_ThenUnavailable()
    {
        var handler = new ScriptedHandler(ScriptedHandler.Hang());
        // Every timer fires at once here, the per-attempt timeout included.
        using var client = TestSupport.Client(handler, Retries(maxRetries: 2), time: new InstantTimeProvider(TimeSpan.MaxValue), timeoutSeconds: 30);

        var e = await Should.ThrowAsync<VectorStoreUnavailableException>(() => client.CountPointsAsync("c", new CountRequest()));

        handler.Calls.ShouldBe(3);
        e.InnerException.ShouldBeOfType<TimeoutRejectedException>();
        e.Message.ShouldContain("POST /collections/c/points/count");
    }

    [Fact]
    public async Task HttpClientTimeout_IsTransient()
    {
        var handler = new ScriptedHandler(
            ScriptedHandler.Throw(new TaskCanceledException("The request was canceled due to the configured HttpClient.Timeout", new TimeoutException())),
            ScriptedHandler.Reply(HttpStatusCode.OK, CountOk));
        using var client = TestSupport.Client(handler, Retries(), time: new InstantTimeProvider(FireBelow), timeoutSeconds: 3600);

        (await client.CountPointsAsync("c", new CountRequest())).ShouldBe(7ul);
        handler.Calls.ShouldBe(2);
    }

    [Fact]
    public async Task ConnectionRefused_OpensCircuit_ThenFailsFastWithoutCallingTheServer()
    {
        var handler = new ScriptedHandler(ScriptedHandler.Throw(new HttpRequestException("Connection refused")));
        var options = Retries(maxRetries: 1) with { CircuitBreakerMinimumThroughput = 2, CircuitBreakerFailureRatio = 0.5, CircuitBreakerBreakSeconds = 600 };
        using var client = TestSupport.Client(handler, options, time: new InstantTimeProvider(FireBelow), timeoutSeconds: 3600);

        var first = await Should.ThrowAsync<VectorStoreUnavailableException>(() => client.CountPointsAsync("c", new CountRequest()));
        first.InnerException.ShouldBeOfType<HttpRequestException>();
        handler.Calls.ShouldBe(2);

        var second = await Should.ThrowAsync<VectorStoreUnavailableException>(() => client.CountPointsAsync("c", new CountRequest()));
        second.Message.ShouldContain("circuit open");
        handler.Calls.ShouldBe(2, "an open circuit does not call the server");
    }

    [Fact]
    public async Task InternalServerError_IsRetried_ThenSurfacesQdrantsText()
    {
        var handler = new ScriptedHandler(ScriptedHandler.Reply(HttpStatusCode.InternalServerError, """{"status":{"error":"Service internal error: segment is corrupted"},"time":0}"""));
        using var client = TestSupport.Client(handler, Retries(maxRetries: 2), time: new InstantTimeProvider(FireBelow), timeoutSeconds: 3600);

        var e = await Should.ThrowAsync<QdrantException>(() => client.GetCollectionAsync("c"));

        handler.Calls.ShouldBe(3);
        e.StatusCode.ShouldBe(HttpStatusCode.InternalServerError);
        e.Error.ShouldBe("Service internal error: segment is corrupted");
    }

    [Fact]
    public async Task BadRequest_IsNotRetried_AndCarriesQdrantsText()
    {
        var handler = new ScriptedHandler(ScriptedHandler.Reply(HttpStatusCode.BadRequest, """{"status":{"error":"Wrong input: Vector dimension error: expected dim: 4, got 3"},"time":0.0001}"""));
        using var client = TestSupport.Client(handler, Retries());

        var e = await Should.ThrowAsync<QdrantException>(() => client.QueryPointsAsync("c", new QueryRequest { Query = new float[3], Limit = 1 }));

        handler.Calls.ShouldBe(1);
        e.Error.ShouldBe("Wrong input: Vector dimension error: expected dim: 4, got 3");
        e.Message.ShouldContain("POST /collections/c/points/query failed with 400");
    }

    [Theory]
    [InlineData(HttpStatusCode.Unauthorized, "Must provide an API key or an Authorization bearer token")]
    [InlineData(HttpStatusCode.Forbidden, "Forbidden: Global access is required")]
    public async Task AuthFailures_PlainText_Surfaced(HttpStatusCode status, string text)
    {
        var handler = new ScriptedHandler(ScriptedHandler.Reply(status, text, "text/plain"));
        using var client = TestSupport.Client(handler, Retries());

        var e = await Should.ThrowAsync<QdrantException>(() => client.ListCollectionsAsync());

        handler.Calls.ShouldBe(1);
        e.StatusCode.ShouldBe(status);
        e.Error.ShouldBe(text);
    }

    [Fact]
    public async Task ApiKey_IsSentOnEveryRequest_AndNeverLogged()
    {
        const string key = "s3cr3t-api-key-value";
        int failures = 2;
        using var emulator = new QdrantEmulator
        {
            ApiKey = key,
            Intercept = _ => Interlocked.Decrement(ref failures) >= 0 ? new HttpResponseMessage(HttpStatusCode.ServiceUnavailable) { Content = new StringContent("warming up") } : null,
        };
        var logger = new CapturingLogger();
        var options = Retries();
        await using var store = new QdrantVectorStore(TestSupport.Client(emulator, options, apiKey: key, logger: logger), options, logger, ownsClient: true);

        await store.EnsureCollectionAsync(new CollectionSpec { Name = "keyed", Dimension = 2 });
        await store.UpsertAsync([new VectorPoint(new Chunk(ChunkId.From("d", 0), "d", "", 0, "t", [1], "", [], new Dictionary<string, string>()), new float[] { 1, 0 })]);
        (await store.CountAsync()).ShouldBe(1);

        emulator.Requests.Count.ShouldBeGreaterThan(4);
        emulator.Requests.ShouldAllBe(r => r.ApiKey == key);
        logger.Lines.ShouldContain(l => l.Contains("warming up", StringComparison.Ordinal) || l.Contains("503", StringComparison.Ordinal), "retries are logged");
        logger.Lines.ShouldNotContain(l => l.Contains(key, StringComparison.Ordinal));

        using var wrongKey = TestSupport.Client(emulator, apiKey: "wrong", logger: logger);
        var e = await Should.ThrowAsync<QdrantException>(() => wrongKey.ListCollectionsAsync());
        e.StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
        e.Error.ShouldBe("Must provide an API key or an Authorization bearer token");
        logger.Lines.ShouldNotContain(l => l.Contains(key, StringComparison.Ordinal) || l.Contains("wrong", StringComparison.Ordinal));
    }

    [Fact]
    public async Task IsHealthy_ReflectsReadiness_AndNeverThrows()
    {
        using var emulator = new QdrantEmulator();
        await using var store = await TestSupport.StoreAsync(emulator, new CollectionSpec { Name = "h", Dimension = 2 });

        (await store.IsHealthyAsync()).ShouldBeTrue();
        emulator.Unreachable = true;
        (await store.IsHealthyAsync()).ShouldBeFalse();
        await Should.ThrowAsync<VectorStoreUnavailableException>(async () => await store.CountAsync());
        emulator.Unreachable = false;
        emulator.Intercept = r => r.RequestUri!.AbsolutePath == "/readyz" ? new HttpResponseMessage(HttpStatusCode.ServiceUnavailable) { Content = new StringContent("some shards are not ready") } : null;
        (await store.IsHealthyAsync()).ShouldBeFalse();
        emulator.Intercept = null;
        (await store.IsHealthyAsync()).ShouldBeTrue();
        emulator.Requests.Where(r => r.PathAndQuery == "/readyz").Count().ShouldBe(4);
    }

    [Fact]
    public async Task CallerCancellation_IsNotAnOutage()
    {
        var handler = new ScriptedHandler(ScriptedHandler.Hang());
        using var client = TestSupport.Client(handler, Retries(), timeoutSeconds: 3600);
        using var cts = new CancellationTokenSource();
        var call = client.CountPointsAsync("c", new CountRequest(), cts.Token);
        cts.Cancel();

        await Should.ThrowAsync<OperationCanceledException>(() => call);
        handler.Calls.ShouldBeLessThanOrEqualTo(1);
    }
}

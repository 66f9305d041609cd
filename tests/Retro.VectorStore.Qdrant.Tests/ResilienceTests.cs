using Grpc.Core;
using Polly.Timeout;
using Retro.Core;
using Retro.VectorStore.Qdrant.StandIn;
using Retro.VectorStore.Qdrant.Tests.Support;

namespace Retro.VectorStore.Qdrant.Tests;

/// <summary>
/// Retries, backoff, Qdrant's retry-after trailer, timeouts, the circuit breaker, error mapping, the api-key, TLS and
/// health, over real gRPC calls to the stand-in with injected faults.
/// </summary>
public sealed class ResilienceTests
{
    /// <summary>Retry delays fire at once and are recorded; the (one hour) per-attempt timeout never fires.</summary>
    private static readonly TimeSpan FireBelow = TimeSpan.FromMinutes(10);

    private const string Count = "/qdrant.Points/Count";

    private static QdrantOptions Retries(int maxRetries = 3, int maxRetryAfterSeconds = 30) => TestSupport.FastRetries(maxRetries) with { MaxRetryAfterSeconds = maxRetryAfterSeconds };

    private static async Task<QdrantStandIn> WithCollectionAsync(string? apiKey = null)
    {
        var standIn = await QdrantStandIn.StartAsync(apiKey);
        await using var store = await TestSupport.StoreAsync(standIn, new CollectionSpec { Name = "c", Dimension = 2 });
        await store.UpsertAsync([new VectorPoint(TestSupport.Chunk("d", 0), new float[] { 1, 0 })]);
        return standIn;
    }

    private static async Task<QdrantVectorStore> OpenAsync(QdrantConnection connection, QdrantOptions options)
    {
        var store = new QdrantVectorStore(connection, options, ownsConnection: true);
        await store.EnsureCollectionAsync(new CollectionSpec { Name = "c", Dimension = 2 });
        return store;
    }

    /// <summary>Fails the first <paramref name="times"/> calls of <paramref name="method"/> with <paramref name="fault"/>.</summary>
    private static Func<string, CallFault?> FailFirst(string method, int times, CallFault fault)
    {
        int left = times;
        return m => m == method && Interlocked.Decrement(ref left) >= 0 ? fault : null;
    }

    private static int Calls(QdrantStandIn standIn, string method) => standIn.Calls.Count(c => c.Method == method);

    [Fact]
    public async Task RateLimited_HonoursQdrantsRetryAfterTrailer_AndCapsLongWaits()
    {
        await using var standIn = await WithCollectionAsync();
        var time = new InstantTimeProvider(FireBelow);
        await using var store = await OpenAsync(TestSupport.Connect(standIn, Retries(maxRetryAfterSeconds: 20), time: time, timeoutSeconds: 3600), Retries(maxRetryAfterSeconds: 20));
        int left = 2;
        standIn.Fault = m => m == Count && Interlocked.Decrement(ref left) is var l && l >= 0
            ? new CallFault(StatusCode.ResourceExhausted, "Rate limiting exceeded: Write rate limit exceeded", RetryAfterSeconds: l == 1 ? 2 : 3600)
            : null;

        (await store.CountAsync()).ShouldBe(1);

        Calls(standIn, Count).ShouldBe(3);
        time.Fired.ShouldContain(TimeSpan.FromSeconds(2), "the retry-after trailer");
        time.Fired.ShouldContain(TimeSpan.FromSeconds(20), "an hour is capped at MaxRetryAfterSeconds");
    }

    [Fact]
    public async Task Unavailable_ThenSuccess_IsRetried()
    {
        await using var standIn = await WithCollectionAsync();
        await using var store = await OpenAsync(TestSupport.Connect(standIn, Retries(), time: new InstantTimeProvider(FireBelow), timeoutSeconds: 3600), Retries());
        standIn.Fault = FailFirst(Count, 2, new CallFault(StatusCode.Unavailable, "Shard temporarily unavailable: shard 0 is initializing"));

        (await store.CountAsync()).ShouldBe(1);
        Calls(standIn, Count).ShouldBe(3);
    }

    [Fact]
    public async Task Unavailable_Always_ThrowsUnavailableAfterRetries_WithQdrantsText()
    {
        await using var standIn = await WithCollectionAsync();
        await using var store = await OpenAsync(TestSupport.Connect(standIn, Retries(3), time: new InstantTimeProvider(FireBelow), timeoutSeconds: 3600), Retries(3));
        standIn.Fault = m => m == Count ? new CallFault(StatusCode.Unavailable, "Shard temporarily unavailable: shards not ready") : null;

        var e = await Should.ThrowAsync<VectorStoreUnavailableException>(async () => await store.CountAsync());

        Calls(standIn, Count).ShouldBe(4, "one attempt and three retries");
        var inner = e.InnerException.ShouldBeOfType<QdrantException>();
        inner.StatusCode.ShouldBe(StatusCode.Unavailable);
        inner.Error.ShouldBe("Shard temporarily unavailable: shards not ready");
        inner.Operation.ShouldBe("Points/Count");
    }

    [Fact]
    public async Task HungServer_TimesOutPerAttempt_ThenUnavailable()
    {
        await using var standIn = await WithCollectionAsync();
        var options = Retries(maxRetries: 1);
        await using var store = await OpenAsync(TestSupport.Connect(standIn, options, timeoutSeconds: 1), options);
        standIn.Fault = m => m == Count ? CallFault.Hung : null;

        var e = await Should.ThrowAsync<VectorStoreUnavailableException>(async () => await store.CountAsync());

        Calls(standIn, Count).ShouldBe(2, "each attempt gave up after the 1 s timeout");
        e.InnerException.ShouldBeOfType<TimeoutRejectedException>();
        e.Message.ShouldContain("Points/Count");
        standIn.Fault = null;
        (await store.CountAsync()).ShouldBe(1, "the server was only slow");
    }

    [Fact]
    public async Task ServerDown_OpensCircuit_ThenFailsFastWithoutCalling()
    {
        var standIn = await WithCollectionAsync();
        var options = Retries(maxRetries: 1) with { CircuitBreakerMinimumThroughput = 2, CircuitBreakerFailureRatio = 0.5, CircuitBreakerBreakSeconds = 600 };
        await using var store = await OpenAsync(TestSupport.Connect(standIn, options, time: new InstantTimeProvider(FireBelow), timeoutSeconds: 3600), options);
        await standIn.DisposeAsync();

        var first = await Should.ThrowAsync<VectorStoreUnavailableException>(async () => await store.CountAsync());
        first.InnerException.ShouldBeOfType<QdrantException>().StatusCode.ShouldBe(StatusCode.Unavailable);

        var second = await Should.ThrowAsync<VectorStoreUnavailableException>(async () => await store.CountAsync());
        second.Message.ShouldContain("circuit open");
        (await store.IsHealthyAsync()).ShouldBeFalse();
    }

    [Fact]
    public async Task OpenCircuit_DoesNotCallTheServer()
    {
        await using var standIn = await WithCollectionAsync();
        var options = Retries(maxRetries: 1) with { CircuitBreakerMinimumThroughput = 2, CircuitBreakerFailureRatio = 0.5, CircuitBreakerBreakSeconds = 600 };
        await using var store = await OpenAsync(TestSupport.Connect(standIn, options, time: new InstantTimeProvider(FireBelow), timeoutSeconds: 3600), options);
        standIn.Fault = m => m == Count ? new CallFault(StatusCode.Unavailable, "down") : null;

        await Should.ThrowAsync<VectorStoreUnavailableException>(async () => await store.CountAsync());
        Calls(standIn, Count).ShouldBe(2);
        (await Should.ThrowAsync<VectorStoreUnavailableException>(async () => await store.CountAsync())).Message.ShouldContain("circuit open");
        Calls(standIn, Count).ShouldBe(2, "an open circuit does not call the server");
    }

    [Fact]
    public async Task InternalError_IsRetried_ThenSurfacesQdrantsText_AndBadInputIsNot()
    {
        await using var standIn = await WithCollectionAsync();
        await using var store = await OpenAsync(TestSupport.Connect(standIn, Retries(2), time: new InstantTimeProvider(FireBelow), timeoutSeconds: 3600), Retries(2));
        standIn.Fault = m => m == Count ? new CallFault(StatusCode.Internal, "Service internal error: segment is corrupted") : null;

        var e = await Should.ThrowAsync<QdrantException>(async () => await store.CountAsync());

        Calls(standIn, Count).ShouldBe(3);
        e.StatusCode.ShouldBe(StatusCode.Internal);
        e.Error.ShouldBe("Service internal error: segment is corrupted");
        standIn.Fault = null;
        int queries = Calls(standIn, "/qdrant.Points/Query");
        var bad = await Should.ThrowAsync<QdrantException>(() => store.Connection.CallAsync("Points/Query", (c, ct) => c.QueryAsync("c", query: new float[3], cancellationToken: ct)));
        bad.Error.ShouldBe("Wrong input: Vector dimension error: expected dim: 2, got 3");
        bad.Message.ShouldContain("Points/Query failed with InvalidArgument");
        Calls(standIn, "/qdrant.Points/Query").ShouldBe(queries + 1, "a wrong request is not retried");
    }

    [Fact]
    public async Task ApiKey_IsSentOnEveryCall_NeverLogged_AndAuthFailuresSurface()
    {
        const string key = "s3cr3t-api-key-value";
        await using var standIn = await QdrantStandIn.StartAsync(apiKey: key);
        standIn.Fault = FailFirst("/qdrant.Collections/Get", 2, new CallFault(StatusCode.Unavailable, "warming up"));
        var logger = new CapturingLogger();
        var options = Retries();
        await using (var store = new QdrantVectorStore(TestSupport.Connect(standIn, options, loggers: logger, time: new InstantTimeProvider(FireBelow), timeoutSeconds: 3600), options, logger, ownsConnection: true))
        {
            await store.EnsureCollectionAsync(new CollectionSpec { Name = "keyed", Dimension = 2 });
            await store.UpsertAsync([new VectorPoint(TestSupport.Chunk("d", 0), new float[] { 1, 0 })]);
            (await store.CountAsync()).ShouldBe(1);
        }

        standIn.Calls.Count.ShouldBeGreaterThan(4);
        standIn.Calls.ShouldAllBe(c => c.ApiKey == key);
        logger.Lines.ShouldContain(l => l.Contains("Unavailable", StringComparison.Ordinal) && l.Contains("Collections/Get", StringComparison.Ordinal), "retries are logged");
        logger.Lines.ShouldNotContain(l => l.Contains(key, StringComparison.Ordinal));

        using var none = QdrantConnection.Open(TestSupport.Store(standIn.Url), Retries(), logger);
        var missing = await Should.ThrowAsync<QdrantException>(() => none.CallAsync("Collections/List", (c, ct) => c.ListCollectionsAsync(ct)));
        missing.StatusCode.ShouldBe(StatusCode.Unauthenticated);
        missing.Error.ShouldBe("Must provide an API key or an Authorization bearer token");
        using var wrong = QdrantConnection.Open(TestSupport.Store(standIn.Url, apiKey: "wrong"), Retries(), logger);
        (await Should.ThrowAsync<QdrantException>(() => wrong.CallAsync("Collections/List", (c, ct) => c.ListCollectionsAsync(ct)))).Error.ShouldBe("Invalid API key or JWT");
        logger.Lines.ShouldNotContain(l => l.Contains(key, StringComparison.Ordinal) || l.Contains("wrong", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Tls_WithAPinnedThumbprint_Connects_AndAnUntrustedCertificateDoesNot()
    {
        await using var standIn = await QdrantStandIn.StartAsync(tls: true);
        standIn.Url.Scheme.ShouldBe("https");
        var pinned = Retries(maxRetries: 0) with { CertificateThumbprint = standIn.CertificateThumbprint };
        await using (var store = new QdrantVectorStore(TestSupport.Connect(standIn, pinned), pinned, ownsConnection: true))
        {
            await store.EnsureCollectionAsync(new CollectionSpec { Name = "tls", Dimension = 2 });
            (await store.CountAsync()).ShouldBe(0);
        }

        await using var untrusted = new QdrantVectorStore(TestSupport.Connect(standIn, Retries(maxRetries: 0)), Retries(maxRetries: 0), ownsConnection: true);
        var e = await Should.ThrowAsync<VectorStoreUnavailableException>(async () => await untrusted.EnsureCollectionAsync(new CollectionSpec { Name = "tls", Dimension = 2 }));
        e.Message.ShouldContain("SSL");
        (await untrusted.IsHealthyAsync()).ShouldBeFalse();
        var wrongPin = Retries(maxRetries: 0) with { CertificateThumbprint = new string('A', 64) };
        await using var mispinned = new QdrantVectorStore(TestSupport.Connect(standIn, wrongPin), wrongPin, ownsConnection: true);
        (await mispinned.IsHealthyAsync()).ShouldBeFalse();
        Should.Throw<ArgumentException>(() => QdrantConnection.Open(TestSupport.Store(new Uri("http://127.0.0.1:6333")), pinned)).Message.ShouldContain("https");
        Should.Throw<ArgumentException>(() => QdrantConnection.Open(TestSupport.Store(standIn.Url), pinned with { CertificateThumbprint = "not hex" })).Message.ShouldContain("CertificateThumbprint");
        QdrantConnection.Open(TestSupport.Store(new Uri("http://127.0.0.1:6333")), pinned with { CertificateThumbprint = "" }).Dispose(); // unset = none
    }

    [Theory]
    [InlineData("http://qdrant:6333", 6334, "http://qdrant:6334/")]
    [InlineData("https://xyz.cloud.example:6333/", 6334, "https://xyz.cloud.example:6334/")]
    [InlineData("https://proxy.example/qdrant", 0, "https://proxy.example/")]
    [InlineData("http://127.0.0.1:7000", 0, "http://127.0.0.1:7000/")]
    public void GrpcEndpoint_IsTheUrlsHostWithTheGrpcPort(string url, int port, string expected)
        => QdrantConnection.GrpcEndpoint(url, port).ToString().ShouldBe(expected);

    [Theory]
    [InlineData("qdrant:6333")]
    [InlineData("ftp://qdrant:6333")]
    [InlineData("/relative")]
    public void GrpcEndpoint_RejectsWhatIsNotAnHttpUrl(string url) => Should.Throw<ArgumentException>(() => QdrantConnection.GrpcEndpoint(url, 6334));

    [Fact]
    public async Task IsHealthy_ReflectsTheHealthCheck_AndNeverThrows()
    {
        var standIn = await QdrantStandIn.StartAsync(apiKey: "k");
        await using var store = await TestSupport.StoreAsync(standIn, new CollectionSpec { Name = "h", Dimension = 2 });

        (await store.IsHealthyAsync()).ShouldBeTrue();
        standIn.Fault = m => m == "/qdrant.Qdrant/HealthCheck" ? new CallFault(StatusCode.Unavailable, "not ready") : null;
        (await store.IsHealthyAsync()).ShouldBeFalse();
        standIn.Fault = null;
        (await store.IsHealthyAsync()).ShouldBeTrue();
        Calls(standIn, "/qdrant.Qdrant/HealthCheck").ShouldBe(3);
        await standIn.DisposeAsync();
        (await store.IsHealthyAsync()).ShouldBeFalse();
        await Should.ThrowAsync<VectorStoreUnavailableException>(async () => await store.CountAsync());
    }

    [Fact]
    public async Task CallerCancellation_IsNotAnOutage()
    {
        await using var standIn = await WithCollectionAsync();
        await using var store = await OpenAsync(TestSupport.Connect(standIn, Retries(), timeoutSeconds: 3600), Retries());
        standIn.Fault = m => m == Count ? CallFault.Hung : null;
        using var cts = new CancellationTokenSource();
        var call = store.CountAsync(cts.Token).AsTask();
        await Task.Delay(50);
        cts.Cancel();

        await Should.ThrowAsync<OperationCanceledException>(() => call);
        Calls(standIn, Count).ShouldBeLessThanOrEqualTo(1);
    }
}

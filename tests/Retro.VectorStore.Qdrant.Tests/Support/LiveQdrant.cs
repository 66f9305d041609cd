using DotNet.Testcontainers.Builders;
using DotNet.Testcontainers.Containers;
using Retro.Core;
using Retro.Core.Options;

namespace Retro.VectorStore.Qdrant.Tests.Support;

/// <summary>
/// The live Qdrant of the live suites, found once per test run: a <c>qdrant/qdrant</c> container started through
/// Testcontainers when a Docker engine answers, else the server at <c>QDRANT_URL</c> (gRPC port <c>QDRANT_GRPC_PORT</c>,
/// default 6334; optional <c>QDRANT_API_KEY</c>), else none: then <see cref="SkipReason"/> says why and every live test
/// reports itself skipped, never passed.
/// </summary>
public sealed class LiveQdrantFixture : IAsyncLifetime
{
    /// <summary>The image the live suites start (the version of the protocol files the stand-in is built from).</summary>
    public const string Image = "qdrant/qdrant:v1.19.0";

    private const string ContainerApiKey = "retro-live-tests";
    private IContainer? _container;

    /// <summary>Where the live server is (its REST url; gRPC on <see cref="GrpcPort"/>), or null.</summary>
    public string? Url { get; private set; }

    public int GrpcPort { get; private set; } = 6334;

    public string? ApiKey { get; private set; }

    /// <summary>Null when a server is there; else why the live tests are skipped.</summary>
    public string? SkipReason { get; private set; }

    /// <summary>How the server was found, for the test log.</summary>
    public string Source { get; private set; } = "none";

    public async Task InitializeAsync()
    {
        string dockerProblem;
        try
        {
            _container = new ContainerBuilder(Image)
                .WithPortBinding(6333, assignRandomHostPort: true)
                .WithPortBinding(6334, assignRandomHostPort: true)
                .WithEnvironment("QDRANT__SERVICE__API_KEY", ContainerApiKey)
                .WithEnvironment("QDRANT__TELEMETRY_DISABLED", "true")
                .WithWaitStrategy(Wait.ForUnixContainer().UntilHttpRequestIsSucceeded(r => r.ForPort(6333).ForPath("/readyz")))
                .Build();
            using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
            await _container.StartAsync(timeout.Token);
            Url = $"http://{_container.Hostname}:{_container.GetMappedPublicPort(6333)}";
            GrpcPort = _container.GetMappedPublicPort(6334);
            ApiKey = ContainerApiKey;
            Source = $"Testcontainers ({Image})";
            return;
        }
        catch (DockerUnavailableException e)
        {
            dockerProblem = "no Docker engine answers for Testcontainers: " + FirstLine(e.Message);
            _container = null;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // An engine answered but the container did not come up (no registry, no image, a port): say so, and fall back.
            dockerProblem = $"Testcontainers could not start {Image}: {e.GetType().Name}: {FirstLine(e.Message)}";
            if (_container is not null) await _container.DisposeAsync();
            _container = null;
        }
        if (Environment.GetEnvironmentVariable("QDRANT_URL") is { Length: > 0 } url)
        {
            Url = url;
            GrpcPort = int.TryParse(Environment.GetEnvironmentVariable("QDRANT_GRPC_PORT"), out int port) ? port : 6334;
            ApiKey = Environment.GetEnvironmentVariable("QDRANT_API_KEY") is { Length: > 0 } key ? key : null;
            Source = "QDRANT_URL";
            return;
        }
        SkipReason = $"no live Qdrant: {dockerProblem}; and QDRANT_URL is not set";
    }

    public async Task DisposeAsync()
    {
        if (_container is not null) await _container.DisposeAsync();
    }

    /// <summary>Store options for the live server.</summary>
    public VectorStoreOptions Store() => new()
    {
        Provider = VectorStoreProvider.Qdrant,
        QdrantUrl = Url ?? throw new InvalidOperationException(SkipReason),
        ApiKey = ApiKey,
        TimeoutSeconds = 30,
    };

    /// <summary>Qdrant options for the live server.</summary>
    public QdrantOptions Options() => new() { GrpcPort = GrpcPort };

    /// <summary>A collection name no other run uses.</summary>
    public static string UniqueCollection(string prefix) => $"{prefix}_{Guid.NewGuid():N}";

    private static string FirstLine(string text)
    {
        int end = text.IndexOfAny(['\r', '\n']);
        return (end < 0 ? text : text[..end]).TrimEnd('.');
    }
}

/// <summary>The live suites share one server (and one container).</summary>
[CollectionDefinition(Name)]
public sealed class LiveQdrantCollection : ICollectionFixture<LiveQdrantFixture>
{
    public const string Name = "live qdrant";
}

using System.ComponentModel.DataAnnotations;

namespace Retro.VectorStore.Qdrant;

/// <summary>
/// Section <c>Retro:VectorStore:Qdrant</c>: the gRPC endpoint's port and TLS pinning, cluster layout of new
/// collections, write batching, and the client's retry and circuit-breaker policy. Url (scheme and host; <c>https</c>
/// = TLS), API key, collection, HNSW and timeout come from <see cref="Retro.Core.Options.VectorStoreOptions"/>.
/// </summary>
public sealed record QdrantOptions
{
    /// <summary>Configuration section of these options.</summary>
    public const string Section = "Retro:VectorStore:Qdrant";

    /// <summary>
    /// Qdrant's gRPC port on the host of <c>Retro:VectorStore:QdrantUrl</c> (whose port is Qdrant's REST port, 6333 by
    /// default, as in Qdrant's own clients); 0 = the url's own port (a proxy that serves gRPC on the url).
    /// </summary>
    [Range(0, 65535)]
    public int GrpcPort { get; init; } = 6334;

    /// <summary>
    /// SHA-256 thumbprint (hex, ':' or '-' separators allowed) of the server's TLS certificate or one of its issuers: the
    /// connection trusts that certificate instead of the system's CA store (self-signed Qdrant TLS). Null = CA store.
    /// Needs an <c>https</c> url.
    /// </summary>
    [RegularExpression("^[0-9A-Fa-f:-]{64,95}$")]
    public string? CertificateThumbprint { get; init; }

    /// <summary>Largest gRPC message the client accepts from the server, in megabytes (retrieve pages of chunks).</summary>
    [Range(1, 2047)]
    public int MaxReceiveMegabytes { get; init; } = 64;

    /// <summary>Shards of a new collection (null = Qdrant's default: 1 standalone, the number of nodes in a cluster).</summary>
    [Range(1, 1024)]
    public int? ShardNumber { get; init; }

    /// <summary>Copies of each shard of a new collection (null = 1). Needs at least this many nodes.</summary>
    [Range(1, 64)]
    public int? ReplicationFactor { get; init; }

    /// <summary>Replicas that must apply a write before it is acknowledged (null = 1; at most the replication factor).</summary>
    [Range(1, 64)]
    public int? WriteConsistencyFactor { get; init; }

    /// <summary>Name of the BM25 sparse vector (IDF modifier) of a new collection; empty = no text index.</summary>
    [RegularExpression("^[A-Za-z0-9_.-]{0,64}$")]
    public string SparseVectorName { get; init; } = "bm25";

    /// <summary>Points per upsert request (Qdrant handles 64..256 well; larger requests risk its 32 MiB request limit).</summary>
    [Range(1, 1024)]
    public int UpsertBatchSize { get; init; } = 128;

    /// <summary>
    /// Qdrant's <c>service.max_request_size_mb</c>: an upsert batch whose protobuf encoding would exceed it is split in
    /// halves until it fits (a single oversized point is sent as is and Qdrant's refusal surfaces).
    /// </summary>
    [Range(1, 4096)]
    public int MaxRequestMegabytes { get; init; } = 32;

    /// <summary>The request size limit in bytes (tests set it below a megabyte).</summary>
    internal long MaxRequestBytes
    {
        get => _maxRequestBytes ?? MaxRequestMegabytes * 1024L * 1024L;
        init => _maxRequestBytes = value;
    }

    private readonly long? _maxRequestBytes;

    /// <summary>
    /// Retries after the first attempt for <c>UNAVAILABLE</c> (connection errors, shards not ready),
    /// <c>RESOURCE_EXHAUSTED</c> (rate limit), <c>INTERNAL</c>, <c>ABORTED</c>, <c>DEADLINE_EXCEEDED</c> and timeouts.
    /// </summary>
    [Range(0, 10)]
    public int MaxRetries { get; init; } = 4;

    /// <summary>First retry delay in milliseconds; doubles per attempt, with jitter.</summary>
    [Range(1, 60_000)]
    public int RetryBaseDelayMs { get; init; } = 200;

    /// <summary>Longest wait honoured from Qdrant's <c>retry-after</c> trailer (rate limits), in seconds (longer waits are capped).</summary>
    [Range(0, 600)]
    public int MaxRetryAfterSeconds { get; init; } = 30;

    /// <summary>Failure ratio (timeouts, <c>UNAVAILABLE</c>, <c>DEADLINE_EXCEEDED</c>, <c>RESOURCE_EXHAUSTED</c>) that opens the circuit.</summary>
    [Range(0.01, 1.0)]
    public double CircuitBreakerFailureRatio { get; init; } = 0.5;

    /// <summary>Calls within the sampling window before the failure ratio counts.</summary>
    [Range(2, 10_000)]
    public int CircuitBreakerMinimumThroughput { get; init; } = 8;

    /// <summary>Sampling window of the circuit breaker, in seconds.</summary>
    [Range(1, 3600)]
    public int CircuitBreakerSamplingSeconds { get; init; } = 30;

    /// <summary>How long an open circuit fails calls fast before letting one through, in seconds.</summary>
    [Range(1, 3600)]
    public int CircuitBreakerBreakSeconds { get; init; } = 15;

    /// <summary>Timeout of a health probe (gRPC <c>qdrant.Qdrant/HealthCheck</c>), in seconds.</summary>
    [Range(1, 60)]
    public int HealthTimeoutSeconds { get; init; } = 3;
}

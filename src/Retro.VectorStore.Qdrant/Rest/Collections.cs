using System.Text.Json;
using System.Text.Json.Serialization;

namespace Retro.VectorStore.Qdrant.Rest;

/// <summary>Qdrant's distance functions (<c>Distance</c>), written by name.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<QdrantDistance>))]
public enum QdrantDistance
{
    /// <summary>Cosine similarity; Qdrant normalises stored and query vectors; score higher is closer.</summary>
    Cosine,
    /// <summary>Euclidean distance; score is the distance, lower is closer.</summary>
    Euclid,
    /// <summary>Inner product; score higher is closer.</summary>
    Dot,
    /// <summary>Manhattan distance; score lower is closer.</summary>
    Manhattan,
}

/// <summary>Body of <c>PUT /collections/{name}</c> (<c>CreateCollection</c>): one unnamed dense vector per point.</summary>
public sealed record CreateCollectionRequest
{
    /// <summary>Size and distance of the collection's single unnamed vector.</summary>
    public required VectorParams Vectors { get; init; }

    /// <summary>Shards of the collection (null = server default: 1 standalone, the number of nodes in a cluster).</summary>
    public uint? ShardNumber { get; init; }

    /// <summary>Copies of each shard (null = 1).</summary>
    public uint? ReplicationFactor { get; init; }

    /// <summary>Replicas that must apply a write before it is acknowledged (null = 1).</summary>
    public uint? WriteConsistencyFactor { get; init; }

    /// <summary>HNSW parameters (null = server defaults).</summary>
    public HnswConfigDiff? HnswConfig { get; init; }

    /// <summary>Optimizer parameters (null = server defaults).</summary>
    public OptimizersConfigDiff? OptimizersConfig { get; init; }

    /// <summary>Quantization (null = none).</summary>
    public QuantizationConfig? QuantizationConfig { get; init; }

    /// <summary>Named sparse vectors (null = none).</summary>
    public IReadOnlyDictionary<string, SparseVectorParams>? SparseVectors { get; init; }
}

/// <summary>Parameters of one dense vector (<c>VectorParams</c>).</summary>
public sealed record VectorParams
{
    /// <summary>Number of dimensions (≥ 1).</summary>
    [JsonRequired]
    public ulong Size { get; init; }

    /// <summary>Distance function.</summary>
    [JsonRequired]
    public QdrantDistance Distance { get; init; }

    /// <summary>Serve the vectors from disk (null = collection default).</summary>
    public bool? OnDisk { get; init; }
}

/// <summary>
/// Qdrant's <c>VectorsConfig</c>: either one unnamed vector (<see cref="Single"/>) or named vectors (<see cref="Named"/>).
/// </summary>
[JsonConverter(typeof(VectorsConfigConverter))]
public sealed record VectorsConfig
{
    /// <summary>The unnamed vector's parameters, or null when the collection uses named vectors.</summary>
    public VectorParams? Single { get; init; }

    /// <summary>Named vectors' parameters, or null when the collection has one unnamed vector.</summary>
    public IReadOnlyDictionary<string, VectorParams>? Named { get; init; }
}

/// <summary>Tells <c>VectorsConfig</c>'s two shapes apart: an object with <c>size</c> is a single vector.</summary>
public sealed class VectorsConfigConverter : JsonConverter<VectorsConfig>
{
    /// <inheritdoc />
    public override VectorsConfig Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        using var document = JsonDocument.ParseValue(ref reader);
        var root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object) throw new JsonException("vectors config must be an object.");
        if (root.TryGetProperty("size"u8, out _))
            return new VectorsConfig { Single = root.Deserialize(QdrantJsonContext.Default.VectorParams) };
        return new VectorsConfig { Named = root.Deserialize(QdrantJsonContext.Default.DictionaryStringVectorParams) };
    }

    /// <inheritdoc />
    public override void Write(Utf8JsonWriter writer, VectorsConfig value, JsonSerializerOptions options)
    {
        if (value.Single is not null) JsonSerializer.Serialize(writer, value.Single, QdrantJsonContext.Default.VectorParams);
        else JsonSerializer.Serialize(writer, value.Named is null ? null : new Dictionary<string, VectorParams>(value.Named), QdrantJsonContext.Default.DictionaryStringVectorParams);
    }
}

/// <summary>HNSW parameters to set (<c>HnswConfigDiff</c>); null members keep the server's values.</summary>
public sealed record HnswConfigDiff
{
    /// <summary>Links per node (Qdrant's m; 0 disables the graph).</summary>
    public uint? M { get; init; }

    /// <summary>Beam width while building (≥ 4).</summary>
    public uint? EfConstruct { get; init; }

    /// <summary>Below this many kilobytes of vectors a filtered search scans instead of walking the graph (≥ 10).</summary>
    public uint? FullScanThreshold { get; init; }

    /// <summary>Links per node for payload-aware (per document) sub-graphs (null = m).</summary>
    public uint? PayloadM { get; init; }

    /// <summary>Keep the graph on disk.</summary>
    public bool? OnDisk { get; init; }
}

/// <summary>Optimizer parameters to set (<c>OptimizersConfigDiff</c>).</summary>
public sealed record OptimizersConfigDiff
{
    /// <summary>Kilobytes of vectors per segment above which an HNSW index is built (0 disables indexing).</summary>
    public ulong? IndexingThreshold { get; init; }

    /// <summary>Target number of segments (0 = from the number of CPUs).</summary>
    public ulong? DefaultSegmentNumber { get; init; }

    /// <summary>Fraction of deleted vectors that triggers a segment's vacuum (0..1).</summary>
    public double? DeletedThreshold { get; init; }
}

/// <summary>Qdrant's <c>QuantizationConfig</c>; Retro uses scalar int8 only (other kinds read back as null).</summary>
public sealed record QuantizationConfig
{
    /// <summary>Scalar quantization settings.</summary>
    public ScalarQuantizationConfig? Scalar { get; init; }
}

/// <summary>Scalar quantization (<c>ScalarQuantizationConfig</c>).</summary>
public sealed record ScalarQuantizationConfig
{
    /// <summary>Quantized type; Qdrant knows only <c>int8</c>.</summary>
    [JsonRequired]
    public string Type { get; init; } = "int8";

    /// <summary>Quantile of values kept in range (0.5..1); null = the whole range.</summary>
    public float? Quantile { get; init; }

    /// <summary>Keep the quantized vectors in RAM even when the originals are on disk.</summary>
    public bool? AlwaysRam { get; init; }
}

/// <summary>Current state and configuration of a collection (<c>CollectionInfo</c>, the subset Retro reads).</summary>
public sealed record CollectionInfo
{
    /// <summary><c>green</c>, <c>yellow</c> (optimizing), <c>grey</c> or <c>red</c>.</summary>
    [JsonRequired]
    public string Status { get; init; } = "";

    /// <summary>Approximate number of points.</summary>
    public ulong? PointsCount { get; init; }

    /// <summary>Approximate number of vectors in HNSW-indexed segments.</summary>
    public ulong? IndexedVectorsCount { get; init; }

    /// <summary>Number of segments.</summary>
    [JsonRequired]
    public ulong SegmentsCount { get; init; }

    /// <summary>Collection configuration.</summary>
    [JsonRequired]
    public CollectionConfig Config { get; init; } = new();

    /// <summary>Payload indexes by field path.</summary>
    public IReadOnlyDictionary<string, PayloadIndexInfo>? PayloadSchema { get; init; }
}

/// <summary>Configuration of a collection (<c>CollectionConfig</c>, the subset Retro reads).</summary>
public sealed record CollectionConfig
{
    /// <summary>Vectors, shards and replication.</summary>
    [JsonRequired]
    public CollectionParams Params { get; init; } = new();

    /// <summary>HNSW parameters in force.</summary>
    [JsonRequired]
    public HnswConfig HnswConfig { get; init; } = new();

    /// <summary>Quantization in force (null = none or a kind Retro does not use).</summary>
    public QuantizationConfig? QuantizationConfig { get; init; }
}

/// <summary>Vectors, shards and replication of a collection (<c>CollectionParams</c>).</summary>
public sealed record CollectionParams
{
    /// <summary>Vector parameters (absent for sparse-only collections).</summary>
    public VectorsConfig? Vectors { get; init; }

    /// <summary>Named sparse vectors (null = none).</summary>
    public IReadOnlyDictionary<string, SparseVectorParams>? SparseVectors { get; init; }

    /// <summary>Number of shards.</summary>
    public uint ShardNumber { get; init; } = 1;

    /// <summary>Copies of each shard.</summary>
    public uint ReplicationFactor { get; init; } = 1;

    /// <summary>Replicas that must apply a write.</summary>
    public uint WriteConsistencyFactor { get; init; } = 1;
}

/// <summary>HNSW parameters in force (<c>HnswConfig</c>).</summary>
public sealed record HnswConfig
{
    /// <summary>Links per node.</summary>
    [JsonRequired]
    public uint M { get; init; }

    /// <summary>Beam width while building.</summary>
    [JsonRequired]
    public uint EfConstruct { get; init; }

    /// <summary>Full-scan threshold in kilobytes.</summary>
    [JsonRequired]
    public ulong FullScanThreshold { get; init; }
}

/// <summary>A payload index (<c>PayloadIndexInfo</c>).</summary>
public sealed record PayloadIndexInfo
{
    /// <summary>Indexed type (<c>keyword</c>, <c>integer</c>, ...).</summary>
    [JsonRequired]
    public string DataType { get; init; } = "";

    /// <summary>Number of points indexed.</summary>
    [JsonRequired]
    public ulong Points { get; init; }
}

/// <summary>Result of <c>GET /collections</c>.</summary>
public sealed record CollectionsResponse
{
    /// <summary>The collections.</summary>
    [JsonRequired]
    public IReadOnlyList<CollectionDescription> Collections { get; init; } = [];
}

/// <summary>One collection's name.</summary>
public sealed record CollectionDescription
{
    /// <summary>Collection name.</summary>
    [JsonRequired]
    public string Name { get; init; } = "";
}

/// <summary>Result of <c>GET /collections/{name}/exists</c>.</summary>
public sealed record CollectionExistence
{
    /// <summary>Whether the collection exists.</summary>
    [JsonRequired]
    public bool Exists { get; init; }
}

/// <summary>Type of a payload index (<c>PayloadSchemaType</c>).</summary>
[JsonConverter(typeof(JsonStringEnumConverter<PayloadSchemaType>))]
public enum PayloadSchemaType
{
    /// <summary>Exact-match strings.</summary>
    [JsonStringEnumMemberName("keyword")] Keyword,
    /// <summary>64-bit integers (match and range).</summary>
    [JsonStringEnumMemberName("integer")] Integer,
    /// <summary>Floating point numbers (range).</summary>
    [JsonStringEnumMemberName("float")] Float,
    /// <summary>Booleans.</summary>
    [JsonStringEnumMemberName("bool")] Bool,
    /// <summary>RFC 3339 timestamps (range).</summary>
    [JsonStringEnumMemberName("datetime")] Datetime,
    /// <summary>UUID strings.</summary>
    [JsonStringEnumMemberName("uuid")] Uuid,
    /// <summary>Full-text tokens.</summary>
    [JsonStringEnumMemberName("text")] Text,
}

/// <summary>Body of <c>PUT /collections/{name}/index</c> (<c>CreateFieldIndex</c>).</summary>
public sealed record CreateFieldIndexRequest
{
    /// <summary>Payload path, e.g. <c>document_id</c> or <c>metadata.source</c>.</summary>
    public required string FieldName { get; init; }

    /// <summary>Index type.</summary>
    public required PayloadSchemaType FieldSchema { get; init; }
}

/// <summary>Body of <c>POST /collections/aliases</c> (<c>ChangeAliasesOperation</c>): applied atomically.</summary>
public sealed record ChangeAliasesRequest
{
    /// <summary>The alias changes, in order.</summary>
    public required IReadOnlyList<AliasOperation> Actions { get; init; }
}

/// <summary>One alias change: exactly one member is set.</summary>
public sealed record AliasOperation
{
    /// <summary>Points an alias at a collection.</summary>
    public CreateAlias? CreateAlias { get; init; }

    /// <summary>Removes an alias.</summary>
    public DeleteAlias? DeleteAlias { get; init; }

    /// <summary>Creates alias <paramref name="alias"/> for <paramref name="collection"/>.</summary>
    public static AliasOperation Create(string alias, string collection) => new() { CreateAlias = new CreateAlias { AliasName = alias, CollectionName = collection } };

    /// <summary>Deletes alias <paramref name="alias"/>.</summary>
    public static AliasOperation Delete(string alias) => new() { DeleteAlias = new DeleteAlias { AliasName = alias } };
}

/// <summary>Alias creation.</summary>
public sealed record CreateAlias
{
    /// <summary>The collection the alias names.</summary>
    public required string CollectionName { get; init; }

    /// <summary>The alias.</summary>
    public required string AliasName { get; init; }
}

/// <summary>Alias removal.</summary>
public sealed record DeleteAlias
{
    /// <summary>The alias.</summary>
    public required string AliasName { get; init; }
}

/// <summary>Result of the alias listings.</summary>
public sealed record CollectionsAliasesResponse
{
    /// <summary>The aliases.</summary>
    [JsonRequired]
    public IReadOnlyList<AliasDescription> Aliases { get; init; } = [];
}

/// <summary>One alias and the collection it names.</summary>
public sealed record AliasDescription
{
    /// <summary>The alias.</summary>
    [JsonRequired]
    public string AliasName { get; init; } = "";

    /// <summary>The collection.</summary>
    [JsonRequired]
    public string CollectionName { get; init; } = "";
}

/// <summary>A snapshot file (<c>SnapshotDescription</c>).</summary>
public sealed record SnapshotDescription
{
    /// <summary>File name on the server.</summary>
    [JsonRequired]
    public string Name { get; init; } = "";

    /// <summary>Creation time as the server writes it (ISO 8601 without zone), when known.</summary>
    public string? CreationTime { get; init; }

    /// <summary>Size in bytes.</summary>
    [JsonRequired]
    public ulong Size { get; init; }

    /// <summary>SHA-256 of the file, when known.</summary>
    public string? Checksum { get; init; }
}

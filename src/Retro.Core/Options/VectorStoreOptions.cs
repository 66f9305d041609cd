using System.ComponentModel.DataAnnotations;
using Retro.Core.Text;

namespace Retro.Core.Options;

/// <summary>Which vector store backs the product. Persisted by name in configuration.</summary>
public enum VectorStoreProvider
{
    /// <summary>Managed HNSW plus SQLite chunk store in a local folder; no server.</summary>
    Embedded = 0,
    /// <summary>A Qdrant server or cluster over its REST API.</summary>
    Qdrant = 1,
}

/// <summary>Section <c>Retro:VectorStore</c>.</summary>
public sealed record VectorStoreOptions
{
    public const string Section = "Retro:VectorStore";

    public VectorStoreProvider Provider { get; init; } = VectorStoreProvider.Embedded;

    /// <summary>Folder of the embedded store.</summary>
    [Required]
    public string Path { get; init; } = "data/store";

    /// <summary>Qdrant base url, e.g. http://localhost:6333.</summary>
    public string QdrantUrl { get; init; } = "http://localhost:6333";

    /// <summary>Qdrant API key (sent as the <c>api-key</c> header); never logged.</summary>
    public string? ApiKey { get; init; }

    [Required, RegularExpression("^[A-Za-z0-9_.-]{1,255}$")]
    public string Collection { get; init; } = "retro";

    /// <summary>HNSW parameters and quantization for a new collection.</summary>
    [Range(2, 256)]
    public int M { get; init; } = 16;

    [Range(4, 4096)]
    public int EfConstruction { get; init; } = 200;

    [Range(1, 4096)]
    public int Ef { get; init; } = 64;

    /// <summary>
    /// Int8 (default): the embedded HNSW walks per-dimension int8 codes (+388 bytes a 384-d vector) and rescores its ef
    /// candidates with the float32 vectors, so results and scores are float32's; same recall per ef, fewer bytes
    /// and cycles per visited node (tests/Retro.Benchmarks/README.md, hnsw). Qdrant: scalar int8 with rescoring.
    /// </summary>
    public QuantizationKind Quantization { get; init; } = QuantizationKind.Int8;

    /// <summary>BM25 text index of a new collection (analysis; k1 and b).</summary>
    public Bm25Options Bm25 { get; init; } = new();

    /// <summary>Request timeout towards a remote store, in seconds.</summary>
    [Range(1, 3600)]
    public int TimeoutSeconds { get; init; } = 30;

    /// <summary>The collection spec these options describe for a given embedding dimension.</summary>
    public CollectionSpec ToSpec(int dimension, DistanceMetric metric = DistanceMetric.Cosine) => new()
    {
        Name = Collection,
        Dimension = dimension,
        Metric = metric,
        M = M,
        EfConstruction = EfConstruction,
        Ef = Ef,
        Quantization = Quantization,
        Bm25 = Bm25,
    };
}

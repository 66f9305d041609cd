using System.ComponentModel.DataAnnotations;
using Retro.Core.Text;

namespace Retro.Core;

/// <summary>Distance between vectors. Persisted by name; do not rename members.</summary>
public enum DistanceMetric
{
    /// <summary>Cosine similarity (vectors are normalised on upsert and query).</summary>
    Cosine = 0,
    /// <summary>Inner product.</summary>
    Dot = 1,
    /// <summary>Negative squared Euclidean distance, so that higher is closer.</summary>
    Euclid = 2,
}

/// <summary>Vector compression kept beside the float vectors. Persisted by name; do not rename members.</summary>
public enum QuantizationKind
{
    None = 0,
    /// <summary>Per-dimension int8 scalar quantization; search on int8, rescore the best with floats.</summary>
    Int8 = 1,
}

/// <summary>What a collection holds and how it is indexed.</summary>
public sealed record CollectionSpec
{
    [Required, RegularExpression("^[A-Za-z0-9_.-]{1,255}$")]
    public string Name { get; init; } = "retro";

    [Range(1, 65536)]
    public int Dimension { get; init; }

    public DistanceMetric Metric { get; init; } = DistanceMetric.Cosine;

    /// <summary>HNSW links per node on layers above 0 (layer 0 has 2·M).</summary>
    [Range(2, 256)]
    public int M { get; init; } = 16;

    /// <summary>HNSW beam width while building.</summary>
    [Range(4, 4096)]
    public int EfConstruction { get; init; } = 200;

    /// <summary>Default beam width while searching.</summary>
    [Range(1, 4096)]
    public int Ef { get; init; } = 64;

    public QuantizationKind Quantization { get; init; } = QuantizationKind.None;

    /// <summary>BM25 text index: analysis (fixed once the collection exists) and scoring parameters.</summary>
    public Bm25Options Bm25 { get; init; } = new();
}

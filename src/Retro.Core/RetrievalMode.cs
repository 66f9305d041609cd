namespace Retro.Core;

/// <summary>How candidates are found (<c>Retro:Retrieval:Mode</c>). Persisted by name in configuration and requests.</summary>
public enum RetrievalMode
{
    /// <summary>Bi-encoder vector search only (the default).</summary>
    Dense = 0,
    /// <summary>BM25 over chunk text only.</summary>
    Sparse = 1,
    /// <summary>Both searches, fused by <see cref="Options.RetrievalOptions.Fusion"/>.</summary>
    Hybrid = 2,
}

/// <summary>How hybrid retrieval merges the dense and the sparse lists. Persisted by name.</summary>
public enum FusionMethod
{
    /// <summary>Reciprocal rank fusion: Σ 1 / (k + rank), rank 1-based (Cormack et al. 2009).</summary>
    Rrf = 0,
    /// <summary>Min-max normalised scores, w · dense + (1 − w) · sparse; a side that missed a hit adds 0.</summary>
    Weighted = 1,
}

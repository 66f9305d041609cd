namespace Retro.Core;

/// <summary>Which retrieval side found a hit. Flags: <see cref="Both"/> = <see cref="Dense"/> | <see cref="Sparse"/>. Persisted by name; do not rename.</summary>
[Flags]
public enum HitSource
{
    /// <summary>Not stated (a store's raw result before the retriever labels it).</summary>
    None = 0,
    /// <summary>Found by the dense (bi-encoder vector) search.</summary>
    Dense = 1,
    /// <summary>Found by the sparse (BM25) search.</summary>
    Sparse = 2,
    /// <summary>Found by both searches.</summary>
    Both = Dense | Sparse,
}

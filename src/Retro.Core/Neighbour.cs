namespace Retro.Core;

/// <summary>A retrieved chunk with the scores that chose it.</summary>
/// <param name="Chunk">The stored chunk and continuation.</param>
/// <param name="Score">Similarity from the vector search (cosine or dot, higher is closer); BM25 in sparse mode; the fused score in hybrid mode.</param>
/// <param name="RerankScore">The reranker's score (cross-encoder or learned ranker) when the candidates were reranked, else null.</param>
public sealed record Neighbour(Chunk Chunk, float Score, float? RerankScore = null)
{
    /// <summary>Which search found the chunk (dense, sparse or both).</summary>
    public HitSource Source { get; init; } = HitSource.Dense;
}

namespace Retro.Api.Apis.Contracts;

/// <summary>One cited chunk.</summary>
/// <param name="ChunkId">Stored chunk id (UUID).</param>
/// <param name="Url">Source document url (may be empty).</param>
/// <param name="Text">Chunk text.</param>
/// <param name="Continuation">Continuation text the decoder also saw.</param>
/// <param name="Score">Bi-encoder similarity (dense), BM25 score (sparse) or fused score (hybrid).</param>
/// <param name="RerankScore">Cross-encoder score, when reranked.</param>
/// <param name="Source">Which search found the chunk: <c>dense</c>, <c>sparse</c> or <c>both</c>.</param>
/// <param name="Read">Whether the decoder read it: false when the neighbour gate (<c>minNeighbourMatch</c>) or the
/// model's question layout (one passage per question) left it out. Always true from <c>/v1/retrieve</c>.</param>
public sealed record NeighbourInfo(string ChunkId, string Url, string Text, string Continuation, float Score, float? RerankScore, string Source = "dense", bool Read = true);

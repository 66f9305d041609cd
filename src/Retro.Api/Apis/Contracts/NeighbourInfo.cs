namespace Retro.Api.Apis.Contracts;

/// <summary>One cited chunk.</summary>
/// <param name="ChunkId">Stored chunk id (UUID).</param>
/// <param name="Url">Source document url (may be empty).</param>
/// <param name="Text">Chunk text.</param>
/// <param name="Continuation">Continuation text the decoder also saw.</param>
/// <param name="Score">Bi-encoder similarity.</param>
/// <param name="RerankScore">Cross-encoder score, when reranked.</param>
public sealed record NeighbourInfo(string ChunkId, string Url, string Text, string Continuation, float Score, float? RerankScore);

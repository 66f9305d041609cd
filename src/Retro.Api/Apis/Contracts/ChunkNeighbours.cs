namespace Retro.Api.Apis.Contracts;

/// <summary>The neighbours retrieved for one completed chunk (also the <c>retrieval</c> event of a stream).</summary>
/// <param name="ChunkIndex">0-based chunk index in the whole token sequence.</param>
/// <param name="Query">The chunk's text, used as the query (the question itself for a question's last chunk).</param>
/// <param name="Neighbours">Neighbours given to the decoder, best first (empty in closed-book mode).</param>
public sealed record ChunkNeighbours(int ChunkIndex, string Query, IReadOnlyList<NeighbourInfo> Neighbours);

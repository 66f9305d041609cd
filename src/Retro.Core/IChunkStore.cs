namespace Retro.Core;

/// <summary>ChunkId to the stored chunk and continuation (the RETRO neighbour).</summary>
public interface IChunkStore
{
    /// <summary>
    /// Fetches chunks by id. The result has one entry per id, in order; null where no such point exists.
    /// </summary>
    ValueTask<IReadOnlyList<Chunk?>> GetChunksAsync(IReadOnlyList<ChunkId> ids, CancellationToken cancellationToken = default);
}

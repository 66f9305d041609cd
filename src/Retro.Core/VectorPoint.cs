namespace Retro.Core;

/// <summary>A point to upsert: the chunk (payload) and the bi-encoder embedding of its text.</summary>
public sealed record VectorPoint(Chunk Chunk, ReadOnlyMemory<float> Vector)
{
    public ChunkId Id => Chunk.Id;
}

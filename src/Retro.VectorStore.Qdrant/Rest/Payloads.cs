namespace Retro.VectorStore.Qdrant.Rest;

/// <summary>Payload of a chunk point: every field of <see cref="Retro.Core.Chunk"/> but its id (the point id).</summary>
internal sealed record ChunkPayload
{
    public required string DocumentId { get; init; }
    public required string Url { get; init; }
    public required int Ordinal { get; init; }
    public required string Text { get; init; }
    public required int[] Tokens { get; init; }
    public required string ContinuationText { get; init; }
    public required int[] ContinuationTokens { get; init; }
    public required Dictionary<string, string> Metadata { get; init; }
}

/// <summary>Payload of an ingest checkpoint point in the side collection.</summary>
internal sealed record CheckpointPayload
{
    public required string ShardKey { get; init; }
    public required long Records { get; init; }
    public required long ByteOffset { get; init; }
    public required bool Completed { get; init; }
    public required long Documents { get; init; }
    public required long Chunks { get; init; }
    public required long Rejected { get; init; }
    public required long Duplicates { get; init; }
}

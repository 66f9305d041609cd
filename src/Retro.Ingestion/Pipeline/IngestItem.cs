using Retro.Core;
using Retro.Ingestion.Reading;

namespace Retro.Ingestion.Pipeline;

/// <summary>Per-shard progress of the current run, the base of its checkpoints.</summary>
internal sealed class ShardProgress(Shard shard, IngestCheckpoint start)
{
    public Shard Shard { get; } = shard;
    public IngestCheckpoint Committed { get; set; } = start;
}

/// <summary>
/// One record in flight, in read order. It is done when it was chunked and every chunk was acknowledged by the store
/// (its pending count reaches 0); the committer advances checkpoints over the longest done prefix.
/// </summary>
internal sealed class IngestItem
{
    private int _pending = 1; // 1 for the chunking step itself, plus one per chunk sent downstream.

    public required ShardProgress Shard { get; init; }
    public required ShardRecord Record { get; init; }
    /// <summary>Last item of its shard: committing it marks the shard completed.</summary>
    public bool EndOfShard { get; init; }
    public SourceDocument? Document { get; init; }
    public string? DocumentId { get; init; }
    public byte[]? TextHash { get; init; }
    public bool Duplicate { get; init; }
    /// <summary>Chunks produced (set by the chunker before any is sent).</summary>
    public int Chunks { get; private set; }
    /// <summary>Ordinals of the document's chunks not indexed (too few words), ascending.</summary>
    public int[] Skipped { get; private set; } = [];

    public bool Done => Volatile.Read(ref _pending) == 0;

    public void AddChunks(int count, int[] skipped)
    {
        Chunks = count;
        Skipped = skipped;
        Interlocked.Add(ref _pending, count);
    }

    /// <summary>Marks one step (chunking, or one chunk's acknowledgement) finished.</summary>
    public void Complete() => Interlocked.Decrement(ref _pending);
}

/// <summary>A chunk travelling from the chunker to the embedding batcher.</summary>
internal readonly record struct PendingChunk(IngestItem Owner, Chunk Chunk);

/// <summary>Embedded chunks travelling from the batcher to the store writer.</summary>
internal sealed record EmbeddedBatch(IngestItem[] Owners, VectorPoint[] Points);

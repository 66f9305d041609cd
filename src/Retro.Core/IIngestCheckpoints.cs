namespace Retro.Core;

/// <summary>
/// Durable per-shard ingestion progress. The indexer records a position only after the points of every record up to
/// it were acknowledged by the store; since point ids are deterministic, replaying from the last position after a
/// crash neither loses nor duplicates chunks.
/// </summary>
public interface IIngestCheckpoints
{
    /// <summary>The checkpoint of a shard, or null when it was never started.</summary>
    ValueTask<IngestCheckpoint?> GetAsync(string shardKey, CancellationToken cancellationToken = default);

    /// <summary>Durably records a shard's checkpoint (replacing the previous one).</summary>
    ValueTask SetAsync(IngestCheckpoint checkpoint, CancellationToken cancellationToken = default);

    /// <summary>All checkpoints, for <c>stats</c>.</summary>
    ValueTask<IReadOnlyList<IngestCheckpoint>> ListAsync(CancellationToken cancellationToken = default);
}

/// <summary>Progress through one shard.</summary>
/// <param name="ShardKey">Identity of the shard (full path plus size and modification time, or a content hash).</param>
/// <param name="Records">Number of records (lines) fully handled from the start of the shard.</param>
/// <param name="ByteOffset">Offset in the decompressed stream just after the last handled record.</param>
/// <param name="Completed">True once the whole shard was handled.</param>
/// <param name="Documents">Documents ingested from the shard so far.</param>
/// <param name="Chunks">Chunks upserted from the shard so far.</param>
/// <param name="Rejected">Records rejected from the shard so far.</param>
/// <param name="Duplicates">Exact-duplicate documents skipped so far.</param>
public sealed record IngestCheckpoint(
    string ShardKey,
    long Records,
    long ByteOffset,
    bool Completed,
    long Documents,
    long Chunks,
    long Rejected,
    long Duplicates);

using Retro.Ingestion.Telemetry;
using Retro.Core;
using Retro.Ingestion.State;

namespace Retro.Ingestion.Pipeline;

/// <summary>
/// Ordered acknowledgement: items enter in read order; <see cref="CommitAsync"/> takes the longest prefix of done
/// items, records their documents in the state, then advances each touched shard's checkpoint to its last taken item.
/// Documents are written before checkpoints, so a crash between the two replays records the state already knows (the
/// registry recognises a replay and ingests it again under the same ids). Single consumer: call from one task.
/// </summary>
internal sealed class CheckpointCommitter(IIngestCheckpoints checkpoints, IndexerState state, DocumentRegistry registry, IngestStats stats, IndexerMetrics metrics)
{
    private readonly Queue<IngestItem> _inFlight = new();
    private readonly Lock _lock = new();

    /// <summary>Items entered and not yet committed.</summary>
    public int InFlight { get { lock (_lock) return _inFlight.Count; } }

    /// <summary>Enters an item in read order (called by the reader before the item is sent downstream).</summary>
    public void Enter(IngestItem item)
    {
        lock (_lock) _inFlight.Enqueue(item);
    }

    /// <summary>Commits the done prefix; returns how many items were committed.</summary>
    public async ValueTask<int> CommitAsync(CancellationToken cancellationToken)
    {
        var taken = new List<IngestItem>();
        lock (_lock)
        {
            while (_inFlight.TryPeek(out var front) && front.Done) taken.Add(_inFlight.Dequeue());
        }
        if (taken.Count == 0) return 0;

        var rows = new List<DocumentRow>();
        var touched = new List<ShardProgress>();
        long documents = 0, chunks = 0;
        foreach (var item in taken)
        {
            var c = item.Shard.Committed;
            bool document = item.Document is not null && !item.Duplicate;
            bool reject = item.Record.Reject is not null;
            if (document)
            {
                rows.Add(new DocumentRow(item.DocumentId!, item.TextHash!, item.Shard.Shard.Key, item.Record.Records, item.Chunks) { Skipped = item.Skipped });
                documents++;
                chunks += item.Chunks;
            }
            item.Shard.Committed = c with
            {
                Records = Math.Max(c.Records, item.Record.Records),
                ByteOffset = Math.Max(c.ByteOffset, item.Record.EndOffset),
                Completed = c.Completed || item.EndOfShard,
                Documents = c.Documents + (document ? 1 : 0),
                Chunks = c.Chunks + (document ? item.Chunks : 0),
                Rejected = c.Rejected + (reject ? 1 : 0),
                Duplicates = c.Duplicates + (item.Duplicate ? 1 : 0),
            };
            if (touched.Count == 0 || !ReferenceEquals(touched[^1], item.Shard)) touched.Add(item.Shard);
        }

        state.AddDocuments(rows);
        registry.Forget(rows);
        foreach (var shard in touched) await checkpoints.SetAsync(shard.Committed, cancellationToken).ConfigureAwait(false);
        stats.AddDocuments(documents);
        metrics.Committed(documents, chunks);
        return taken.Count;
    }
}

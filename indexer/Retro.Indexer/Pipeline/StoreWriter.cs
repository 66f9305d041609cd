using System.Diagnostics;
using System.Threading.Channels;
using Retro.Core;
using Retro.Indexer.Telemetry;

namespace Retro.Indexer.Pipeline;

/// <summary>
/// Upserts embedded batches into the store, one at a time; after each acknowledgement marks the chunks' records
/// and lets the committer advance checkpoints. A store exception ends the run (nothing unacknowledged is committed).
/// </summary>
internal sealed class StoreWriter(IVectorStore store, CheckpointCommitter committer, IngestStats stats, IndexerMetrics metrics)
{
    /// <summary>Runs until <paramref name="input"/> completes.</summary>
    public async Task RunAsync(ChannelReader<EmbeddedBatch> input, CancellationToken cancellationToken)
    {
        await foreach (var batch in input.ReadAllAsync(cancellationToken).ConfigureAwait(false))
        {
            long start = Stopwatch.GetTimestamp();
            await store.UpsertAsync(batch.Points, cancellationToken).ConfigureAwait(false);
            metrics.Upserted(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
            foreach (var owner in batch.Owners) owner.Complete();
            stats.AddChunks(batch.Points.Length);
            await committer.CommitAsync(cancellationToken).ConfigureAwait(false);
        }
    }
}

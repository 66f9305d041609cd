using System.Diagnostics;
using System.Threading.Channels;
using Retro.Core;
using Retro.Ingestion.Telemetry;

namespace Retro.Ingestion.Pipeline;

/// <summary>
/// Upserts embedded batches into the store, one call at a time; batches that queued up while the previous call ran
/// are merged into one call (up to <see cref="MaxPointsPerUpsert"/> points), so a store whose durable commit costs
/// more than an embedding batch does not become the bottleneck. After each acknowledgement marks the chunks'
/// records and lets the committer advance checkpoints. A store exception ends the run (nothing unacknowledged is
/// committed).
/// </summary>
internal sealed class StoreWriter(IVectorStore store, CheckpointCommitter committer, IngestStats stats, IndexerMetrics metrics)
{
    /// <summary>Most points sent in one upsert when batches are merged.</summary>
    public const int MaxPointsPerUpsert = 1024;

    /// <summary>Runs until <paramref name="input"/> completes.</summary>
    public async Task RunAsync(ChannelReader<EmbeddedBatch> input, CancellationToken cancellationToken)
    {
        var points = new List<VectorPoint>(MaxPointsPerUpsert);
        var owners = new List<IngestItem>(MaxPointsPerUpsert);
        while (await input.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
        {
            while (points.Count < MaxPointsPerUpsert && input.TryRead(out var batch))
            {
                points.AddRange(batch.Points);
                owners.AddRange(batch.Owners);
            }
            if (points.Count == 0) continue;
            long start = Stopwatch.GetTimestamp();
            await store.UpsertAsync(points, cancellationToken).ConfigureAwait(false);
            metrics.Upserted(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
            foreach (var owner in owners) owner.Complete();
            stats.AddChunks(points.Count);
            await committer.CommitAsync(cancellationToken).ConfigureAwait(false);
            // The store may keep the list: hand it a fresh one next time.
            points = new List<VectorPoint>(MaxPointsPerUpsert);
            owners.Clear();
        }
    }
}

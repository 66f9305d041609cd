using System.Diagnostics;
using System.Threading.Channels;
using Retro.Core;
using Retro.Ingestion.Telemetry;

namespace Retro.Ingestion.Pipeline;

/// <summary>
/// Groups chunks into batches of up to <see cref="IngestOptions.BatchSize"/>, embeds each batch's chunk texts (with their
/// document's title, <see cref="Chunk.RetrievalText()"/>) with
/// the bi-encoder and sends the points on. A batch goes out full, or smaller only when the chunk channel is empty
/// and completed (end of input), so the encoder always sees full batches while input lasts.
/// </summary>
internal sealed class EmbeddingBatcher(ITextEncoder encoder, int batchSize, IngestStats stats, IndexerMetrics metrics)
{
    /// <summary>Runs until <paramref name="input"/> completes; does not complete <paramref name="output"/>.</summary>
    public async Task RunAsync(ChannelReader<PendingChunk> input, ChannelWriter<EmbeddedBatch> output, CancellationToken cancellationToken)
    {
        int dimension = encoder.Dimension;
        var batch = new List<PendingChunk>(batchSize);
        while (await input.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
        {
            while (batch.Count < batchSize && input.TryRead(out var chunk)) batch.Add(chunk);
            if (batch.Count < batchSize && !input.Completion.IsCompleted) continue;
            if (batch.Count == 0) continue;
            await output.WriteAsync(Embed(batch, dimension), cancellationToken).ConfigureAwait(false);
            batch.Clear();
        }
        if (batch.Count > 0) await output.WriteAsync(Embed(batch, dimension), cancellationToken).ConfigureAwait(false);
    }

    private EmbeddedBatch Embed(List<PendingChunk> batch, int dimension)
    {
        int n = batch.Count;
        var texts = new string[n];
        for (int i = 0; i < n; i++) texts[i] = batch[i].Chunk.RetrievalText(); // title + text
        // One array per batch: the points keep slices of it until the store has them.
        var vectors = new float[n * dimension];
        long start = Stopwatch.GetTimestamp();
        encoder.Encode(texts, vectors);
        metrics.Embedded(n, Stopwatch.GetElapsedTime(start).TotalMilliseconds);
        var owners = new IngestItem[n];
        var points = new VectorPoint[n];
        for (int i = 0; i < n; i++)
        {
            owners[i] = batch[i].Owner;
            points[i] = new VectorPoint(batch[i].Chunk, vectors.AsMemory(i * dimension, dimension));
        }
        stats.AddEmbedded(n);
        return new EmbeddedBatch(owners, points);
    }
}

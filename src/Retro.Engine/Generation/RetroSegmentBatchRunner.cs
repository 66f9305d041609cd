using Retro.Engine.Retro;

namespace Retro.Engine.Generation;

/// <summary>The managed engine's batched call: <see cref="RetroDecoder.SegmentBatch"/> over one <see cref="RetroBatch"/>.</summary>
internal sealed class RetroSegmentBatchRunner(RetroDecoder decoder, int capacity) : ISegmentBatchRunner<RetroSession>
{
    private readonly RetroBatch _batch = new(decoder, capacity, rowCapacity: capacity * decoder.Config.ChunkSize);

    public int Capacity => _batch.Capacity;

    public int RowCapacity => _batch.RowCapacity;

    public int VocabSize => decoder.Config.VocabSize;

    public void Run(IReadOnlyList<RetroSession> sessions, IReadOnlyList<ReadOnlyMemory<int>> segments, IReadOnlyList<IReadOnlyList<int[]>?> neighbours, Span<float> logits)
        => decoder.SegmentBatch(_batch, sessions, segments, neighbours, logits);

    public void Dispose() => _batch.Dispose();
}

namespace Retro.Engine.Generation;

/// <summary>
/// One batched decoder call over the segments of several sessions, as a <see cref="StepBatcher{TSession}"/> runs it:
/// the managed engine (<see cref="RetroSegmentBatchRunner"/>) or ONNX Runtime.
/// </summary>
internal interface ISegmentBatchRunner<TSession> : IDisposable where TSession : class
{
    /// <summary>Sessions one call feeds at most.</summary>
    int Capacity { get; }

    /// <summary>Tokens one call feeds at most, all sessions together.</summary>
    int RowCapacity { get; }

    /// <summary>V: the length of each session's row of logits.</summary>
    int VocabSize { get; }

    /// <summary>
    /// Feeds <paramref name="segments"/>[b] (1 or more tokens at the session's next positions, of which only the first
    /// may complete a chunk, then with <paramref name="neighbours"/>[b] as that chunk's) to <paramref name="sessions"/>[b];
    /// writes each session's last-token logits as row b of <paramref name="logits"/> (B × V).
    /// </summary>
    void Run(IReadOnlyList<TSession> sessions, IReadOnlyList<ReadOnlyMemory<int>> segments, IReadOnlyList<IReadOnlyList<int[]>?> neighbours, Span<float> logits);
}

using Retro.Engine.Retro;

namespace Retro.Engine.Generation;

/// <summary>
/// Coalesces the feeds of concurrent sessions (single-token steps, and prompt chunks being prefilled) into one
/// <see cref="RetroDecoder.SegmentBatch"/>, so every weight matrix is read once for all of them and new requests'
/// prefills share the weight reads with running requests' steps. No timer: whoever arrives while a batch runs joins
/// the next one, and the first waiter of the next batch runs it (leader/follower), so a lone caller never waits for
/// company. Thread-safe.
/// </summary>
internal sealed class StepBatcher : IDisposable
{
    private readonly RetroDecoder _decoder;
    private readonly RetroBatch _batch;
    private readonly float[] _logits;
    private readonly object _gate = new();
    private readonly List<Pending> _queue = [];
    private readonly List<RetroSession> _sessions = [];
    private readonly List<IReadOnlyList<int[]>?> _neighbours = [];
    private readonly List<ReadOnlyMemory<int>> _segments = [];
    private bool _running;
    private long _steps, _batches;

    /// <summary>Feeds run so far (single-token steps and segments), and the batched decoder calls that ran them.</summary>
    public (long Steps, long Batches) Counts => (Interlocked.Read(ref _steps), Interlocked.Read(ref _batches));

    public StepBatcher(RetroDecoder decoder, int capacity)
    {
        _decoder = decoder;
        _batch = new RetroBatch(decoder, capacity, rowCapacity: capacity * decoder.Config.ChunkSize);
        _logits = new float[capacity * decoder.Config.VocabSize];
    }

    /// <summary>Tokens one batch feeds at most (a segment is at most one chunk long).</summary>
    public int RowCapacity => _batch.RowCapacity;

    /// <summary>Feeds <paramref name="token"/> to <paramref name="session"/> (with its chunk's neighbours when it completes one) and writes the next-token logits.</summary>
    public void Step(RetroSession session, int token, IReadOnlyList<int[]> neighbours, float[] logits) => Feed(session, [token], neighbours, logits);

    /// <summary>
    /// Feeds a segment to <paramref name="session"/>: 1 to <see cref="RowCapacity"/> tokens of which only the first
    /// may complete a chunk (then with that chunk's <paramref name="neighbours"/>); writes the last token's logits.
    /// </summary>
    public void Feed(RetroSession session, int[] tokens, IReadOnlyList<int[]> neighbours, float[] logits)
    {
        var mine = new Pending(session, tokens, neighbours, logits);
        bool lead;
        lock (_gate)
        {
            _queue.Add(mine);
            lead = !_running;
            if (lead) _running = true;
        }
        if (!lead)
        {
            mine.Signal.Wait();
            if (!mine.Lead)
            {
                mine.Error?.Throw();
                return;
            }
        }
        RunBatch();
        mine.Error?.Throw();
    }

    private void RunBatch()
    {
        Pending[] batch;
        lock (_gate)
        {
            int n = 0, rows = 0;
            while (n < _queue.Count && n < _batch.Capacity && (n == 0 || rows + _queue[n].Tokens.Length <= _batch.RowCapacity))
                rows += _queue[n++].Tokens.Length;
            batch = _queue.GetRange(0, n).ToArray();
            _queue.RemoveRange(0, n);
        }
        try
        {
            _sessions.Clear();
            _neighbours.Clear();
            _segments.Clear();
            for (int b = 0; b < batch.Length; b++)
            {
                _sessions.Add(batch[b].Session);
                _neighbours.Add(batch[b].Neighbours.Count == 0 ? null : batch[b].Neighbours);
                _segments.Add(batch[b].Tokens);
            }
            int v = _decoder.Config.VocabSize;
            _decoder.SegmentBatch(_batch, _sessions, _segments, _neighbours, _logits);
            Interlocked.Add(ref _steps, batch.Length);
            Interlocked.Increment(ref _batches);
            for (int b = 0; b < batch.Length; b++) _logits.AsSpan(b * v, v).CopyTo(batch[b].Logits);
        }
        catch (Exception e)
        {
            var error = System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e);
            foreach (var p in batch) p.Error = error;
        }
        Pending? next = null;
        lock (_gate)
        {
            if (_queue.Count > 0) next = _queue[0];
            else _running = false;
        }
        // The leader's own step is in this batch (it was queued first among those taken).
        foreach (var p in batch) p.Signal.Set();
        if (next is not null)
        {
            next.Lead = true;
            next.Signal.Set();
        }
    }

    public void Dispose() => _batch.Dispose();

    private sealed class Pending(RetroSession session, int[] tokens, IReadOnlyList<int[]> neighbours, float[] logits)
    {
        public RetroSession Session { get; } = session;
        public int[] Tokens { get; } = tokens;
        public IReadOnlyList<int[]> Neighbours { get; } = neighbours;
        public float[] Logits { get; } = logits;
        public ManualResetEventSlim Signal { get; } = new(false);
        public volatile bool Lead;
        public System.Runtime.ExceptionServices.ExceptionDispatchInfo? Error;
    }
}

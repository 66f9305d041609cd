namespace Retro.Engine.Generation;

/// <summary>
/// Coalesces the feeds of concurrent sessions (single-token steps, and prompt chunks being prefilled) into one
/// batched decoder call (<see cref="ISegmentBatchRunner{TSession}"/>: the managed engine's
/// <see cref="Retro.RetroDecoder.SegmentBatch"/>, or ONNX Runtime's), so every weight matrix is read once for all of them and new requests'
/// prefills share the weight reads with running requests' steps. Whoever arrives while a batch runs joins the next
/// one, and the first waiter of the next batch runs it (leader/follower). Before it runs, the leader gathers: while
/// fewer feeds are queued than sessions are attached, it yields the core to the sessions just released (they are
/// sampling their next token, tens of microseconds) until the queue stops growing for <see cref="QuietTicks"/> or
/// <see cref="MaxGatherTicks"/> pass. Without that the sessions split into two groups that alternate, each batch
/// half as large, and the other group's sampling competes with the batch for the cores. A lone session never waits
/// (one attached, one queued). Thread-safe.
/// </summary>
internal sealed class StepBatcher<TSession> : IDisposable where TSession : class
{
    private readonly ISegmentBatchRunner<TSession> _runner;
    private readonly float[] _logits;
    private readonly object _gate = new();
    private readonly List<Pending> _queue = [];
    private readonly List<TSession> _sessions = [];
    private readonly List<IReadOnlyList<int[]>?> _neighbours = [];
    private readonly List<ReadOnlyMemory<int>> _segments = [];
    private bool _running;
    private int _attached;
    private long _lastArrival;
    private long _steps, _batches, _rows, _busyTicks;

    /// <summary>How long the queue may stay unchanged before the leader stops gathering (200 µs).</summary>
    public static readonly long QuietTicks = System.Diagnostics.Stopwatch.Frequency / 5000;

    /// <summary>The longest a leader gathers (1 ms).</summary>
    public static readonly long MaxGatherTicks = System.Diagnostics.Stopwatch.Frequency / 1000;

    /// <summary>Counts a session that will feed through this batcher (until <see cref="Detach"/>): the leader gathers for it.</summary>
    public void Attach() => Interlocked.Increment(ref _attached);

    /// <summary>The session of an <see cref="Attach"/> feeds no more.</summary>
    public void Detach() => Interlocked.Decrement(ref _attached);

    /// <summary>Feeds run so far (single-token steps and segments), and the batched decoder calls that ran them.</summary>
    public (long Steps, long Batches) Counts => (Interlocked.Read(ref _steps), Interlocked.Read(ref _batches));

    /// <summary>Tokens the batched calls were fed in all (a question's leading pads included, though the decoder restores them), and the time spent in them (Stopwatch ticks).</summary>
    public (long Rows, long BusyTicks) Work => (Interlocked.Read(ref _rows), Interlocked.Read(ref _busyTicks));

    /// <summary>Batches the feeds of <paramref name="runner"/>'s sessions; disposes the runner with the batcher.</summary>
    public StepBatcher(ISegmentBatchRunner<TSession> runner)
    {
        _runner = runner;
        _logits = new float[runner.Capacity * runner.VocabSize];
    }

    /// <summary>Tokens one batch feeds at most (a segment is at most one chunk long).</summary>
    public int RowCapacity => _runner.RowCapacity;

    /// <summary>Feeds <paramref name="token"/> to <paramref name="session"/> (with its chunk's neighbours when it completes one) and writes the next-token logits.</summary>
    public void Step(TSession session, int token, IReadOnlyList<int[]> neighbours, float[] logits) => Feed(session, [token], neighbours, logits);

    /// <summary>
    /// An adapter's feed (<see cref="IRetroDecoderSession.Feed"/>) through the batcher: <paramref name="tokens"/> at
    /// positions <paramref name="length"/>.. of which only the last may complete a chunk (then with
    /// <paramref name="neighbours"/>), checked here, before queueing (a bad feed inside a batch would fail every
    /// request in it), and split so that a segment completes a chunk only with its first token. Writes the last
    /// token's logits through <paramref name="row"/> (V). False, with nothing fed, when the feed is one the session
    /// must run (and reject) itself: empty, too short a logits span, a chunk completed before the last token, or
    /// more tokens than a batch holds.
    /// </summary>
    public bool TryFeed(TSession session, int length, int maxLength, int chunkSize, ReadOnlySpan<int> tokens, IReadOnlyList<int[]> neighbours,
        float[] row, Span<float> logits)
    {
        int v = _runner.VocabSize;
        if (tokens.IsEmpty || logits.Length < v || !DecoderInput.OnlyLastMayComplete(length, tokens.Length, chunkSize) || tokens.Length > RowCapacity)
            return false; // the session's own feed reports these
        DecoderInput.CheckTokens(tokens, length, maxLength, v);
        DecoderInput.CheckNeighboursAllowed(length + tokens.Length, chunkSize, neighbours.Count);
        bool completes = (length + tokens.Length) % chunkSize == 0; // the last token completes a chunk
        if (completes && tokens.Length > 1)
        {
            Feed(session, tokens[..^1].ToArray(), [], row);
            Feed(session, [tokens[^1]], neighbours, row);
        }
        else Feed(session, tokens.ToArray(), neighbours, row);
        row.AsSpan(0, v).CopyTo(logits);
        return true;
    }

    /// <summary>
    /// Feeds a segment to <paramref name="session"/>: 1 to <see cref="RowCapacity"/> tokens of which only the first
    /// may complete a chunk (then with that chunk's <paramref name="neighbours"/>); writes the last token's logits.
    /// </summary>
    public void Feed(TSession session, int[] tokens, IReadOnlyList<int[]> neighbours, float[] logits)
    {
        var mine = new Pending(session, tokens, neighbours, logits);
        bool lead;
        lock (_gate)
        {
            _queue.Add(mine);
            _lastArrival = System.Diagnostics.Stopwatch.GetTimestamp();
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

    /// <summary>The leader's wait for the attached sessions still sampling (see the class remarks).</summary>
    private void Gather()
    {
        long start = System.Diagnostics.Stopwatch.GetTimestamp();
        while (true)
        {
            long now = System.Diagnostics.Stopwatch.GetTimestamp();
            lock (_gate)
            {
                if (_queue.Count >= Math.Min(Volatile.Read(ref _attached), _runner.Capacity)
                    || now - _lastArrival >= QuietTicks || now - start >= MaxGatherTicks)
                    return;
            }
            Thread.Yield();
        }
    }

    private void RunBatch()
    {
        Gather();
        Pending[] batch;
        lock (_gate)
        {
            int n = 0, rows = 0;
            while (n < _queue.Count && n < _runner.Capacity && (n == 0 || rows + _queue[n].Tokens.Length <= _runner.RowCapacity))
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
            int v = _runner.VocabSize;
            long start = System.Diagnostics.Stopwatch.GetTimestamp();
            _runner.Run(_sessions, _segments, _neighbours, _logits);
            Interlocked.Add(ref _busyTicks, System.Diagnostics.Stopwatch.GetTimestamp() - start);
            int rows = 0;
            foreach (var p in batch) rows += p.Tokens.Length;
            Interlocked.Add(ref _rows, rows);
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

    public void Dispose() => _runner.Dispose();

    private sealed class Pending(TSession session, int[] tokens, IReadOnlyList<int[]> neighbours, float[] logits)
    {
        public TSession Session { get; } = session;
        public int[] Tokens { get; } = tokens;
        public IReadOnlyList<int[]> Neighbours { get; } = neighbours;
        public float[] Logits { get; } = logits;
        public ManualResetEventSlim Signal { get; } = new(false);
        public volatile bool Lead;
        public System.Runtime.ExceptionServices.ExceptionDispatchInfo? Error;
    }
}

namespace Retro.Engine.Retro;

public sealed partial class RetroDecoder
{
    /// <summary>
    /// Feeds one token to each of B sessions at once (each at its own position): the projections and the LM head run
    /// as one B-row matrix product, attention per session over its own caches. <paramref name="neighbours"/>[b] are
    /// the neighbours for session b when its token completes a chunk (null, or a null entry: none). Writes B × V
    /// logits (row b for session b) into <paramref name="logits"/>. Equivalent to <see cref="RetroSession.Step"/> on
    /// each session in turn; allocates nothing.
    /// </summary>
    public void StepBatch(RetroBatch batch, IReadOnlyList<RetroSession> sessions, ReadOnlySpan<int> tokens,
        IReadOnlyList<IReadOnlyList<int[]>?>? neighbours, Span<float> logits)
    {
        int n = CheckBatch(batch, sessions, tokens.Length, neighbours, logits, "tokens");
        var lengths = batch.HostLengths;
        for (int b = 0; b < n; b++)
        {
            var s = sessions[b].State;
            if (s.Length >= s.MaxSequenceLength) throw new ArgumentException($"session {b} is full ({s.MaxSequenceLength} tokens)", nameof(sessions));
            if ((uint)tokens[b] >= (uint)Config.VocabSize)
                throw new ArgumentOutOfRangeException(nameof(tokens), tokens[b], $"token of session {b} is outside the vocabulary 0..{Config.VocabSize - 1}");
            CheckNeighbours(b, s.Length, neighbours);
            batch.HostIds[b] = tokens[b];
            lengths[b] = 1;
        }
        RunBatch(batch, sessions, n, n, neighbours, logits);
    }

    /// <summary>
    /// Feeds one segment to each of B sessions at once: <paramref name="tokens"/>[b] (one or more tokens at positions
    /// <c>Length</c>.. of session b, of which only the first may complete a chunk, with <paramref name="neighbours"/>[b]
    /// as that chunk's). Every token row of every session goes through each weight matrix in one product (prompt
    /// prefills of concurrent requests, and their decoding steps, share the weight reads); attention and CCA run per
    /// session over its own caches. Writes each session's last-position logits as row b of <paramref name="logits"/>
    /// (B × V). Equivalent to <see cref="Forward"/> on each session in turn; allocates nothing. At most
    /// <see cref="RetroBatch.Capacity"/> sessions and <see cref="RetroBatch.RowCapacity"/> tokens in all; everything is
    /// checked before any session changes.
    /// </summary>
    public void SegmentBatch(RetroBatch batch, IReadOnlyList<RetroSession> sessions, IReadOnlyList<ReadOnlyMemory<int>> tokens,
        IReadOnlyList<IReadOnlyList<int[]>?>? neighbours, Span<float> logits)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        int n = CheckBatch(batch, sessions, tokens.Count, neighbours, logits, "token segments");
        var lengths = batch.HostLengths;
        var padded = batch.HostPadded;
        int rows = 0;
        for (int b = 0; b < n; b++)
        {
            var s = sessions[b].State;
            var segment = tokens[b].Span;
            if (segment.IsEmpty) throw new ArgumentException($"no tokens for session {b}", nameof(tokens));
            padded[b] = PadPrefixLength(s, segment);
            int p = s.Length;
            if (p + segment.Length > s.MaxSequenceLength)
                throw new ArgumentException($"session {b}: sequence of {p + segment.Length} tokens exceeds the session's {s.MaxSequenceLength}", nameof(tokens));
            if (!OnlyFirstMayComplete(p, segment.Length))
                throw new ArgumentException($"session {b}: tokens at positions {p}..{p + segment.Length - 1} cross a chunk boundary after the first", nameof(tokens));
            foreach (int t in segment)
                if ((uint)t >= (uint)Config.VocabSize) throw new ArgumentOutOfRangeException(nameof(tokens), t, $"token of session {b} is outside the vocabulary 0..{Config.VocabSize - 1}");
            CheckNeighbours(b, p, neighbours);
            segment = segment[padded[b]..]; // leading pads come from the pad prefix (the rest starts before chunk 0 completes)
            if (rows + segment.Length > batch.RowCapacity) throw new ArgumentException($"more than {batch.RowCapacity} tokens in all (the batch's row capacity)", nameof(tokens));
            segment.CopyTo(batch.HostIds.AsSpan(rows));
            lengths[b] = segment.Length;
            rows += segment.Length;
        }
        for (int b = 0; b < n; b++) RestorePadPrefix(sessions[b].State, padded[b]);
        RunBatch(batch, sessions, n, rows, neighbours, logits);
    }

    /// <summary>The checks both batch calls share; returns the number of sessions.</summary>
    private int CheckBatch(RetroBatch batch, IReadOnlyList<RetroSession> sessions, int inputs, IReadOnlyList<IReadOnlyList<int[]>?>? neighbours,
        Span<float> logits, string what)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ArgumentNullException.ThrowIfNull(sessions);
        if (!ReferenceEquals(batch.Decoder, this)) throw new ArgumentException("the batch was made for another decoder", nameof(batch));
        int n = sessions.Count, v = Config.VocabSize;
        if (n == 0) throw new ArgumentException("no sessions to feed", nameof(sessions));
        if (n > batch.Capacity) throw new ArgumentException($"{n} sessions exceed the batch's capacity {batch.Capacity}", nameof(sessions));
        if (inputs != n) throw new ArgumentException($"{inputs} {what} for {n} sessions", "tokens");
        if (neighbours is not null && neighbours.Count != n) throw new ArgumentException($"{neighbours.Count} neighbour lists for {n} sessions", nameof(neighbours));
        if (logits.Length < n * v) throw new ArgumentException($"logits holds {logits.Length} values, {n * v} needed", nameof(logits));
        for (int b = 0; b < n; b++)
        {
            var session = sessions[b] ?? throw new ArgumentException($"session {b} is null", nameof(sessions));
            if (!ReferenceEquals(session.Decoder, this)) throw new ArgumentException($"session {b} belongs to another decoder", nameof(sessions));
            for (int a = 0; a < b; a++)
                if (ReferenceEquals(sessions[a], session)) throw new ArgumentException($"session {b} appears twice", nameof(sessions));
        }
        return n;
    }

    private void CheckNeighbours(int b, int p, IReadOnlyList<IReadOnlyList<int[]>?>? neighbours)
    {
        if ((p + 1) % Config.ChunkSize != 0 && neighbours?[b] is { Count: > 0 })
            throw new ArgumentException($"neighbours given to session {b} at position {p}, which completes no chunk", nameof(neighbours));
    }

    /// <summary>
    /// The batched pass over validated input: session b feeds batch.HostLengths[b] tokens (rows in session order in
    /// batch.HostIds) from its current length on. Rows go through every weight matrix together; attention and CCA run per
    /// session over its own caches; each session's last row gives its logits.
    /// </summary>
    private void RunBatch(RetroBatch batch, IReadOnlyList<RetroSession> sessions, int n, int rows,
        IReadOnlyList<IReadOnlyList<int[]>?>? neighbours, Span<float> logits)
    {
        int v = Config.VocabSize, m = Config.ChunkSize, d = Config.DModel;
        var positions = batch.HostPositions;
        var counts = batch.HostNeighbourCounts;
        var lengths = batch.HostLengths;
        var hostPositions = batch.HostRowPositions;
        var hostCcaPositions = batch.HostCcaPositions;
        for (int b = 0, r = 0; b < n; b++)
        {
            int p = sessions[b].State.Length;
            positions[b] = p;
            for (int i = 0; i < lengths[b]; i++, r++)
            {
                hostPositions[r] = p + i;
                hostCcaPositions[r] = CcaQueryPosition(p + i); // rows before m−1 have no CCA: any position serves
            }
        }
        for (int b = 0; b < n; b++)
        {
            int p = positions[b];
            counts[b] = (p + 1) % m == 0 ? PrepareNeighbours(sessions[b].State, (p + 1) / m - 1, neighbours?[b]) : 0;
        }

        var be = Backend;
        var ids = batch.Ids.SliceColumns(0, rows);
        var pos = batch.Positions.SliceColumns(0, rows);
        be.Upload<int>(batch.HostIds.AsSpan(0, rows), ids);
        be.Upload<int>(hostPositions.AsSpan(0, rows), pos);
        var ccaPos = batch.CcaPositions.SliceColumns(0, rows);
        if (Config.CcaRope) be.Upload<int>(hostCcaPositions.AsSpan(0, rows), ccaPos);
        var x = batch.X.Slice(0, rows);
        var xb = batch.Xb.Slice(0, rows);
        var q = batch.Q.Slice(0, rows);
        var qkv = batch.Qkv.Slice(0, rows);
        var att = batch.AttnOut.Slice(0, rows);
        be.Embedding(Weights.TokEmbeddings, ids, x);

        for (int i = 0; i < Config.NLayers; i++)
        {
            var w = Weights.Layers[i];
            if (i == Config.FirstCcaLayer)
            {
                for (int b = 0, r = 0; b < n; r += lengths[b], b++)
                {
                    int p = positions[b];
                    RecordChunkInputs(sessions[b].State, x.Slice(r, lengths[b]), p, (p + 1) % m == 0, counts[b]);
                }
            }

            // self-attention: shared projections, then each session's cache and causal attention over it
            be.LayerNorm(x, w.AttnNormWeight, w.AttnNormBias, Config.LayerNormEps, xb);
            Project(xb, w, qkv);
            be.Rope(qkv.SliceColumns(0, 2 * d), pos, 2 * Config.NHeads, Config.HeadDim, Config.RopeTheta); // q and k
            var items = batch.AttentionItems;
            for (int b = 0, r = 0; b < n; r += lengths[b], b++)
            {
                var s = sessions[b].State;
                int p = positions[b], len = lengths[b];
                be.Copy(qkv.Slice(r, len).SliceColumns(d, 2 * d), s.Qkv[i].Slice(p, len).SliceColumns(d, 2 * d)); // k | v into the cache
                items[b] = new AttentionItem(qkv.Slice(r, len).SliceColumns(0, d), s.KeyCache[i], s.ValueCache[i], default, att.Slice(r, len),
                    new AttentionShape(1, len, p + len, s.MaxSequenceLength, Config.NHeads, Config.HeadDim, _scale, Causal: true, QueryOffset: p));
            }
            be.AttentionBatch(items.AsSpan(0, n)); // every session's heads in one parallel job
            be.MatMul(att, w.Wo, default, x, MatMulEpilogue.Accumulate);

            // CCA: a session's rows attend to its chunk's neighbours; without any, to no key, which yields exactly 0
            if (w.Cca is { } cca && AnyCca(sessions, positions, n))
            {
                int ci = Config.CcaIndex(i);
                be.LayerNorm(x, cca.NormWeight, cca.NormBias, Config.LayerNormEps, xb);
                be.MatMul(xb, cca.Wq, default, q);
                if (Config.CcaRope) be.Rope(q, ccaPos, Config.NHeads, Config.HeadDim, Config.RopeTheta);
                var ccaItems = batch.AttentionItems;
                for (int b = 0, r = 0; b < n; r += lengths[b], b++)
                {
                    var s = sessions[b].State;
                    int keys = HasCca(s, positions[b]) ? s.CachedRows : 0;
                    ccaItems[b] = new AttentionItem(q.Slice(r, lengths[b]), s.CcaKeys[ci], s.CcaValues[ci], s.EncMask, att.Slice(r, lengths[b]),
                        new AttentionShape(1, lengths[b], keys, s.CcaKeys[ci].Rows, Config.NHeads, Config.HeadDim, _scale), cca.Sink);
                }
                be.AttentionBatch(ccaItems.AsSpan(0, n));
                be.MatMul(att, cca.Wo, default, x, MatMulEpilogue.Accumulate);
            }

            be.LayerNorm(x, w.MlpNormWeight, w.MlpNormBias, Config.LayerNormEps, xb);
            var hidden = batch.Hidden.Slice(0, rows);
            be.MatMul(xb, w.FcIn, default, hidden, MatMulEpilogue.Gelu);
            be.MatMul(hidden, w.FcOut, default, x, MatMulEpilogue.Accumulate);
        }

        // logits of each session's last row only (one row per session already when every session fed one token)
        var last = x;
        if (rows > n)
        {
            last = batch.Last.Slice(0, n);
            for (int b = 0, r = 0; b < n; b++)
            {
                r += lengths[b];
                be.Copy(x.Slice(r - 1, 1), last.Slice(b, 1));
            }
        }
        var normed = batch.LastNormed.Slice(0, n);
        be.LayerNorm(last, Weights.NormFWeight, Weights.NormFBias, Config.LayerNormEps, normed);
        var l = batch.Logits.Slice(0, n);
        be.MatMul(normed, Weights.LmHead, default, l);
        be.Download<float>(l, logits[..(n * v)]);
        for (int b = 0; b < n; b++) sessions[b].State.Length = positions[b] + lengths[b];
    }

    private bool HasCca(RetroRunState s, int p) => (p + 1) / Config.ChunkSize - 1 >= 0 && s.CachedNeighbours > 0;

    private bool AnyCca(IReadOnlyList<RetroSession> sessions, int[] positions, int n)
    {
        for (int b = 0; b < n; b++) if (HasCca(sessions[b].State, positions[b])) return true;
        return false;
    }
}

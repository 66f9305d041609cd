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
        ArgumentNullException.ThrowIfNull(batch);
        ArgumentNullException.ThrowIfNull(sessions);
        if (!ReferenceEquals(batch.Decoder, this)) throw new ArgumentException("the batch was made for another decoder", nameof(batch));
        int n = sessions.Count, v = Config.VocabSize, m = Config.ChunkSize;
        if (n == 0) throw new ArgumentException("no sessions to step", nameof(sessions));
        if (n > batch.Capacity) throw new ArgumentException($"{n} sessions exceed the batch's capacity {batch.Capacity}", nameof(sessions));
        if (tokens.Length != n) throw new ArgumentException($"{tokens.Length} tokens for {n} sessions", nameof(tokens));
        if (neighbours is not null && neighbours.Count != n) throw new ArgumentException($"{neighbours.Count} neighbour lists for {n} sessions", nameof(neighbours));
        if (logits.Length < n * v) throw new ArgumentException($"logits holds {logits.Length} values, {n * v} needed", nameof(logits));

        // validate everything before any state changes
        var positions = batch.HostPositions;
        var counts = batch.HostNeighbourCounts;
        for (int b = 0; b < n; b++)
        {
            var session = sessions[b] ?? throw new ArgumentException($"session {b} is null", nameof(sessions));
            var s = session.State;
            if (!ReferenceEquals(session.Decoder, this)) throw new ArgumentException($"session {b} belongs to another decoder", nameof(sessions));
            for (int a = 0; a < b; a++)
                if (ReferenceEquals(sessions[a], session)) throw new ArgumentException($"session {b} appears twice", nameof(sessions));
            if (s.Length >= s.MaxSequenceLength) throw new ArgumentException($"session {b} is full ({s.MaxSequenceLength} tokens)", nameof(sessions));
            if ((uint)tokens[b] >= (uint)v) throw new ArgumentOutOfRangeException(nameof(tokens), tokens[b], $"token of session {b} is outside the vocabulary 0..{v - 1}");
            int p = s.Length;
            bool completes = (p + 1) % m == 0;
            var nb = neighbours?[b];
            if (!completes && nb is { Count: > 0 })
                throw new ArgumentException($"neighbours given to session {b} at position {p}, which completes no chunk", nameof(neighbours));
            positions[b] = p;
            counts[b] = 0;
        }
        for (int b = 0; b < n; b++)
        {
            int p = positions[b];
            if ((p + 1) % m == 0) counts[b] = PrepareNeighbours(sessions[b].State, (p + 1) / m - 1, neighbours?[b]);
        }

        var be = Backend;
        var ids = batch.Ids.SliceColumns(0, n);
        var pos = batch.Positions.SliceColumns(0, n);
        be.Upload(tokens, ids);
        be.Upload<int>(positions.AsSpan(0, n), pos);
        var x = batch.X.Slice(0, n);
        var xb = batch.Xb.Slice(0, n);
        int d = Config.DModel;
        var q = batch.Q.Slice(0, n);
        var qkv = batch.Qkv.Slice(0, n);
        var att = batch.AttnOut.Slice(0, n);
        be.Embedding(Weights.TokEmbeddings, ids, x);

        for (int i = 0; i < Config.NLayers; i++)
        {
            var w = Weights.Layers[i];
            if (i == Config.FirstCcaLayer)
            {
                for (int b = 0; b < n; b++)
                {
                    int p = positions[b];
                    RecordChunkInputs(sessions[b].State, x.Slice(b, 1), p, (p + 1) % m == 0, counts[b]);
                }
            }

            // self-attention: shared projections, then each session's cache and attention
            be.LayerNorm(x, w.AttnNormWeight, w.AttnNormBias, Config.LayerNormEps, xb);
            Project(xb, w, qkv);
            be.Rope(qkv.SliceColumns(0, 2 * d), pos, 2 * Config.NHeads, Config.HeadDim, Config.RopeTheta); // q and k
            for (int b = 0; b < n; b++)
            {
                var s = sessions[b].State;
                int p = positions[b];
                be.Copy(qkv.Slice(b, 1).SliceColumns(d, 2 * d), s.Qkv[i].Slice(p, 1).SliceColumns(d, 2 * d)); // k | v into the cache
                be.Attention(qkv.Slice(b, 1).SliceColumns(0, d), s.KeyCache[i], s.ValueCache[i], default, att.Slice(b, 1),
                    new AttentionShape(1, 1, p + 1, s.MaxSequenceLength, Config.NHeads, Config.HeadDim, _scale, Causal: true, QueryOffset: p));
            }
            be.MatMul(att, w.Wo, default, x, MatMulEpilogue.Accumulate);

            // CCA: sessions without neighbours for their chunk attend to no key, which yields exactly 0
            if (w.Cca is { } cca && AnyCca(sessions, positions, n))
            {
                int ci = Config.CcaIndex(i);
                be.LayerNorm(x, cca.NormWeight, cca.NormBias, Config.LayerNormEps, xb);
                be.MatMul(xb, cca.Wq, default, q);
                for (int b = 0; b < n; b++)
                {
                    var s = sessions[b].State;
                    int keys = HasCca(s, positions[b]) ? s.CachedNeighbours * Config.NeighbourLen : 0;
                    be.Attention(q.Slice(b, 1), s.CcaKeys[ci], s.CcaValues[ci], s.EncMask, att.Slice(b, 1),
                        new AttentionShape(1, 1, keys, s.CcaKeys[ci].Rows, Config.NHeads, Config.HeadDim, _scale));
                }
                be.MatMul(att, cca.Wo, default, x, MatMulEpilogue.Accumulate);
            }

            be.LayerNorm(x, w.MlpNormWeight, w.MlpNormBias, Config.LayerNormEps, xb);
            var hidden = batch.Hidden.Slice(0, n);
            be.MatMul(xb, w.FcIn, default, hidden, MatMulEpilogue.Gelu);
            be.MatMul(hidden, w.FcOut, default, x, MatMulEpilogue.Accumulate);
        }

        be.LayerNorm(x, Weights.NormFWeight, Weights.NormFBias, Config.LayerNormEps, xb);
        var l = batch.Logits.Slice(0, n);
        be.MatMul(xb, Weights.LmHead, default, l);
        be.Download<float>(l, logits[..(n * v)]);
        for (int b = 0; b < n; b++) sessions[b].State.Length = positions[b] + 1;
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
        ArgumentNullException.ThrowIfNull(batch);
        ArgumentNullException.ThrowIfNull(sessions);
        ArgumentNullException.ThrowIfNull(tokens);
        if (!ReferenceEquals(batch.Decoder, this)) throw new ArgumentException("the batch was made for another decoder", nameof(batch));
        int n = sessions.Count, v = Config.VocabSize, m = Config.ChunkSize;
        if (n == 0) throw new ArgumentException("no sessions to feed", nameof(sessions));
        if (n > batch.Capacity) throw new ArgumentException($"{n} sessions exceed the batch's capacity {batch.Capacity}", nameof(sessions));
        if (tokens.Count != n) throw new ArgumentException($"{tokens.Count} token segments for {n} sessions", nameof(tokens));
        if (neighbours is not null && neighbours.Count != n) throw new ArgumentException($"{neighbours.Count} neighbour lists for {n} sessions", nameof(neighbours));
        if (logits.Length < n * v) throw new ArgumentException($"logits holds {logits.Length} values, {n * v} needed", nameof(logits));

        // validate everything before any state changes
        var positions = batch.HostPositions;
        var counts = batch.HostNeighbourCounts;
        int rows = 0;
        for (int b = 0; b < n; b++)
        {
            var session = sessions[b] ?? throw new ArgumentException($"session {b} is null", nameof(sessions));
            var s = session.State;
            if (!ReferenceEquals(session.Decoder, this)) throw new ArgumentException($"session {b} belongs to another decoder", nameof(sessions));
            for (int a = 0; a < b; a++)
                if (ReferenceEquals(sessions[a], session)) throw new ArgumentException($"session {b} appears twice", nameof(sessions));
            var segment = tokens[b].Span;
            if (segment.IsEmpty) throw new ArgumentException($"no tokens for session {b}", nameof(tokens));
            int p = s.Length;
            if (p + segment.Length > s.MaxSequenceLength)
                throw new ArgumentException($"session {b}: sequence of {p + segment.Length} tokens exceeds the session's {s.MaxSequenceLength}", nameof(tokens));
            if (!OnlyFirstMayComplete(p, segment.Length))
                throw new ArgumentException($"session {b}: tokens at positions {p}..{p + segment.Length - 1} cross a chunk boundary after the first", nameof(tokens));
            foreach (int t in segment)
                if ((uint)t >= (uint)v) throw new ArgumentOutOfRangeException(nameof(tokens), t, $"token of session {b} is outside the vocabulary 0..{v - 1}");
            var nb = neighbours?[b];
            if ((p + 1) % m != 0 && nb is { Count: > 0 })
                throw new ArgumentException($"neighbours given to session {b} at position {p}, which completes no chunk", nameof(neighbours));
            rows += segment.Length;
            if (rows > batch.RowCapacity) throw new ArgumentException($"more than {batch.RowCapacity} tokens in all (the batch's row capacity)", nameof(tokens));
            positions[b] = p;
            counts[b] = 0;
        }
        for (int b = 0; b < n; b++)
        {
            int p = positions[b];
            if ((p + 1) % m == 0) counts[b] = PrepareNeighbours(sessions[b].State, (p + 1) / m - 1, neighbours?[b]);
        }

        var be = Backend;
        var hostIds = batch.HostIds;
        var hostPositions = batch.HostRowPositions;
        for (int b = 0, r = 0; b < n; b++)
        {
            var segment = tokens[b].Span;
            for (int i = 0; i < segment.Length; i++, r++)
            {
                hostIds[r] = segment[i];
                hostPositions[r] = positions[b] + i;
            }
        }
        var ids = batch.Ids.SliceColumns(0, rows);
        var pos = batch.Positions.SliceColumns(0, rows);
        be.Upload<int>(hostIds.AsSpan(0, rows), ids);
        be.Upload<int>(hostPositions.AsSpan(0, rows), pos);
        var x = batch.X.Slice(0, rows);
        var xb = batch.Xb.Slice(0, rows);
        int d = Config.DModel;
        var q = batch.Q.Slice(0, rows);
        var qkv = batch.Qkv.Slice(0, rows);
        var att = batch.AttnOut.Slice(0, rows);
        be.Embedding(Weights.TokEmbeddings, ids, x);

        for (int i = 0; i < Config.NLayers; i++)
        {
            var w = Weights.Layers[i];
            if (i == Config.FirstCcaLayer)
            {
                for (int b = 0, r = 0; b < n; r += tokens[b].Length, b++)
                {
                    int p = positions[b];
                    RecordChunkInputs(sessions[b].State, x.Slice(r, tokens[b].Length), p, (p + 1) % m == 0, counts[b]);
                }
            }

            // self-attention: shared projections, then each session's cache and causal attention over it
            be.LayerNorm(x, w.AttnNormWeight, w.AttnNormBias, Config.LayerNormEps, xb);
            Project(xb, w, qkv);
            be.Rope(qkv.SliceColumns(0, 2 * d), pos, 2 * Config.NHeads, Config.HeadDim, Config.RopeTheta); // q and k
            for (int b = 0, r = 0; b < n; r += tokens[b].Length, b++)
            {
                var s = sessions[b].State;
                int p = positions[b], len = tokens[b].Length;
                be.Copy(qkv.Slice(r, len).SliceColumns(d, 2 * d), s.Qkv[i].Slice(p, len).SliceColumns(d, 2 * d)); // k | v into the cache
                be.Attention(qkv.Slice(r, len).SliceColumns(0, d), s.KeyCache[i], s.ValueCache[i], default, att.Slice(r, len),
                    new AttentionShape(1, len, p + len, s.MaxSequenceLength, Config.NHeads, Config.HeadDim, _scale, Causal: true, QueryOffset: p));
            }
            be.MatMul(att, w.Wo, default, x, MatMulEpilogue.Accumulate);

            // CCA: a session's segment attends to its chunk's neighbours; without any, to no key, which yields exactly 0
            if (w.Cca is { } cca && AnyCca(sessions, positions, n))
            {
                int ci = Config.CcaIndex(i);
                be.LayerNorm(x, cca.NormWeight, cca.NormBias, Config.LayerNormEps, xb);
                be.MatMul(xb, cca.Wq, default, q);
                for (int b = 0, r = 0; b < n; r += tokens[b].Length, b++)
                {
                    var s = sessions[b].State;
                    int keys = HasCca(s, positions[b]) ? s.CachedNeighbours * Config.NeighbourLen : 0;
                    be.Attention(q.Slice(r, tokens[b].Length), s.CcaKeys[ci], s.CcaValues[ci], s.EncMask, att.Slice(r, tokens[b].Length),
                        new AttentionShape(1, tokens[b].Length, keys, s.CcaKeys[ci].Rows, Config.NHeads, Config.HeadDim, _scale));
                }
                be.MatMul(att, cca.Wo, default, x, MatMulEpilogue.Accumulate);
            }

            be.LayerNorm(x, w.MlpNormWeight, w.MlpNormBias, Config.LayerNormEps, xb);
            var hidden = batch.Hidden.Slice(0, rows);
            be.MatMul(xb, w.FcIn, default, hidden, MatMulEpilogue.Gelu);
            be.MatMul(hidden, w.FcOut, default, x, MatMulEpilogue.Accumulate);
        }

        // logits of each session's last position only
        var last = batch.Last.Slice(0, n);
        for (int b = 0, r = 0; b < n; b++)
        {
            r += tokens[b].Length;
            be.Copy(x.Slice(r - 1, 1), last.Slice(b, 1));
        }
        var normed = batch.LastNormed.Slice(0, n);
        be.LayerNorm(last, Weights.NormFWeight, Weights.NormFBias, Config.LayerNormEps, normed);
        var l = batch.Logits.Slice(0, n);
        be.MatMul(normed, Weights.LmHead, default, l);
        be.Download<float>(l, logits[..(n * v)]);
        for (int b = 0; b < n; b++) sessions[b].State.Length = positions[b] + tokens[b].Length;
    }

    bool HasCca(RetroRunState s, int p) => (p + 1) / Config.ChunkSize - 1 >= 0 && s.CachedNeighbours > 0;

    bool AnyCca(IReadOnlyList<RetroSession> sessions, int[] positions, int n)
    {
        for (int b = 0; b < n; b++) if (HasCca(sessions[b].State, positions[b])) return true;
        return false;
    }
}

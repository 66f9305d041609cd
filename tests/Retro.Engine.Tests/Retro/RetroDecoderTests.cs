using Retro.Engine.Retro;

namespace Retro.Engine.Tests.Retro;

/// <summary>
/// Self-consistency of the decoder on random weights with a small, unusual geometry (m = 4, r = 6, CCA at layer 0
/// and 2, up to 3 neighbours): incremental decoding equals the full forward, chunk alignment and causality of CCA,
/// closed-book equals the decoder without CCA, and the session's contracts.
/// </summary>
public sealed class RetroDecoderTests : IDisposable
{
    private const double Tolerance = 1e-5; // same math in a different grouping of rows: float rounding only

    private static readonly RetroConfig Config = new RetroConfig
    {
        VocabSize = 50, DModel = 16, NLayers = 3, NHeads = 2, DFf = 24, MaxSeqLen = 40,
        ChunkSize = 4, NeighbourLen = 6, NumNeighbours = 3, CcaLayers = [0, 2],
        EncoderLayers = 2, EncoderNHeads = 4, EncoderDFf = 20,
    }.Validate();

    private readonly IBackend _backend = TestBackends.Cpu();
    private readonly RandomRetroModel _model;
    private readonly RetroDecoder _decoder;
    private readonly int[] _tokens;

    public RetroDecoderTests()
    {
        _model = new RandomRetroModel(_backend, Config, seed: 17);
        _decoder = new RetroDecoder(Config, _model.Bind(Config), _backend);
        var rng = new Random(5);
        _tokens = new int[27]; // 6 complete chunks and 3 tokens
        for (int i = 0; i < _tokens.Length; i++) _tokens[i] = rng.Next(Config.VocabSize);
    }

    public void Dispose()
    {
        _decoder.Dispose();
        _model.Dispose();
        _backend.Dispose();
    }

    /// <summary>Chunk 0: 3 neighbours (one short); 1: none; 2: one, padded with -1 inside; 3: two; 4: only an empty one; 5: two.</summary>
    private static IReadOnlyList<int[]>? Neighbours(int u) => u switch
    {
        0 => [[1, 2, 3, 4, 5, 6], [7, 8, 9], [10, 11, 12, 13, 14, 15]],
        1 => null,
        2 => [[20, -1, 21, 22, -1, -1]],
        3 => [[30, 31, 32, 33, 34, 35], [36, 37, 38, 39, 40, 41]],
        4 => [[-1, -1]],
        5 => [[3, 1, 4, 1, 5, 9], [2, 6, 5, 3, 5, 8]],
        _ => null,
    };

    private float[] Full(ReadOnlySpan<int> tokens, Func<int, IReadOnlyList<int[]>?>? neighbours, RetroDecoder? decoder = null)
    {
        decoder ??= _decoder;
        using var state = decoder.CreateState(logitRows: Config.ChunkSize);
        var logits = new float[tokens.Length * Config.VocabSize];
        decoder.Forward(state, tokens, neighbours, logits);
        return logits;
    }

    [Fact]
    public void Incremental_steps_equal_the_full_forward_at_every_position()
    {
        var full = Full(_tokens, Neighbours);
        using var session = _decoder.CreateSession();
        int v = Config.VocabSize;
        for (int p = 0; p < _tokens.Length; p++)
        {
            var nb = session.NextCompletesChunk ? Neighbours(session.NextChunkIndex) : null;
            var logits = session.Step(_tokens[p], nb).ToArray();
            ParityAssert.Close($"step logits at position {p}", full.AsSpan(p * v, v), logits, v, Tolerance);
        }
    }

    [Fact]
    public void Feeding_in_any_split_equals_the_full_forward()
    {
        var full = Full(_tokens, Neighbours);
        int v = Config.VocabSize, m = Config.ChunkSize;
        using var session = _decoder.CreateSession();
        var logits = new float[v];
        int p = 0;
        // groups ending where a chunk completes, or earlier: 3, 1 (completes), 2, 2 (completes), 4 (completes), ...
        int[] sizes = [3, 1, 2, 2, 4, 1, 3, 4, 4, 3];
        foreach (int size in sizes)
        {
            var group = _tokens.AsSpan(p, size);
            int last = p + size - 1;
            var nb = (last + 1) % m == 0 ? Neighbours((last + 1) / m - 1) : null;
            session.Feed(group, nb, logits);
            ParityAssert.Close($"logits after feeding up to position {last}", full.AsSpan(last * v, v), logits, v, Tolerance);
            p += size;
        }
        p.ShouldBe(_tokens.Length);
    }

    [Fact]
    public void Prefill_then_steps_equal_the_full_forward()
    {
        var full = Full(_tokens, Neighbours);
        int v = Config.VocabSize;
        using var session = _decoder.CreateSession();
        var afterPrefill = session.Prefill(_tokens.AsSpan(0, 10), Neighbours).ToArray();
        ParityAssert.Close("prefill logits", full.AsSpan(9 * v, v), afterPrefill, v, Tolerance);
        for (int p = 10; p < _tokens.Length; p++)
        {
            var nb = session.NextCompletesChunk ? Neighbours(session.NextChunkIndex) : null;
            var logits = session.Step(_tokens[p], nb).ToArray();
            ParityAssert.Close($"step logits at position {p}", full.AsSpan(p * v, v), logits, v, Tolerance);
        }
    }

    [Fact]
    public void Neighbours_of_chunk_u_reach_exactly_positions_from_its_last_token_on()
    {
        int v = Config.VocabSize, m = Config.ChunkSize;
        var baseline = Full(_tokens, Neighbours);
        IReadOnlyList<int[]>? Changed(int u) => u == 3 ? [[44, 45, 46, 47, 48, 49]] : Neighbours(u);
        var changed = Full(_tokens, Changed);
        int first = 3 * m + m - 1; // u(p) = 3 for p in 15..18
        for (int p = 0; p < _tokens.Length; p++)
        {
            double diff = ParityAssert.RelativeError(baseline.AsSpan(p * v, v), changed.AsSpan(p * v, v));
            if (p < first) diff.ShouldBe(0, $"position {p} must not see chunk 3's neighbours");
            else if (p < first + m) diff.ShouldBeGreaterThan(1e-4, $"position {p} attends to chunk 3's neighbours");
        }
    }

    [Fact]
    public void Closed_book_equals_the_decoder_without_cca_and_no_neighbours_anywhere()
    {
        var plainConfig = Config with { CcaLayers = [] };
        using var plain = new RetroDecoder(plainConfig, _model.Bind(plainConfig), _backend);
        var closed = Full(_tokens, null);
        var withoutCca = Full(_tokens, null, plain);
        ParityAssert.Close("closed-book vs no-CCA decoder", withoutCca, closed, Config.VocabSize, 0.0);
        var emptyLists = Full(_tokens, _ => []);
        ParityAssert.Close("empty neighbour lists vs closed-book", closed, emptyLists, Config.VocabSize, 0.0);
    }

    [Fact]
    public void Neighbours_are_encoded_up_to_their_last_token_only()
    {
        // chunk 0's neighbours: 6 tokens, 3 tokens, 6 tokens; chunk 2's: one of 6 positions whose last two are padding
        using var session = _decoder.CreateSession();
        session.Prefill(_tokens.AsSpan(0, Config.ChunkSize), Neighbours);
        session.State.CachedNeighbours.ShouldBe(3);
        session.State.CachedRows.ShouldBe(6 + 3 + 6);
        session.Prefill(_tokens.AsSpan(Config.ChunkSize, 2 * Config.ChunkSize), Neighbours);
        session.State.CachedChunk.ShouldBe(2);
        session.State.CachedRows.ShouldBe(4); // [20, -1, 21, 22]: the inner padding stays (masked), the trailing goes
    }

    [Fact]
    public void Positions_before_the_first_chunk_ends_never_see_neighbours()
    {
        int v = Config.VocabSize, m = Config.ChunkSize;
        var with = Full(_tokens, Neighbours);
        var without = Full(_tokens, null);
        ParityAssert.Close("positions 0..m-2", without.AsSpan(0, (m - 1) * v), with.AsSpan(0, (m - 1) * v), v, 0.0);
        ParityAssert.RelativeError(without.AsSpan((m - 1) * v, v), with.AsSpan((m - 1) * v, v)).ShouldBeGreaterThan(1e-4);
    }

    [Fact]
    public void Session_contracts_fail_clearly()
    {
        using var session = _decoder.CreateSession(maxSequenceLength: 8);
        var logits = new float[Config.VocabSize];
        Should.Throw<ArgumentException>(() => session.Step(1, [[1, 2]])).Message.ShouldContain("completes no chunk");
        Should.Throw<ArgumentOutOfRangeException>(() => session.Step(Config.VocabSize));
        Should.Throw<ArgumentException>(() => session.Feed([1, 2, 3, 4, 5], null, logits)).Message.ShouldContain("only the last");
        session.Feed([1, 2, 3], null, logits);
        session.Length.ShouldBe(3);
        session.NextCompletesChunk.ShouldBeTrue();
        Should.Throw<ArgumentException>(() => session.Step(4, [[1], [2], [3], [4]])).Message.ShouldContain("more than 3");
        Should.Throw<ArgumentException>(() => session.Step(4, [[1, 99]])).Message.ShouldContain("outside the vocabulary");
        session.Length.ShouldBe(3);
        session.Step(4);
        session.Feed([5, 6, 7, 8], [[1, 2, 3]], logits);
        Should.Throw<ArgumentException>(() => session.Step(1)).Message.ShouldContain("exceeds");
        session.Reset();
        session.Length.ShouldBe(0);
    }

    [Fact]
    public void A_step_allocates_nothing_and_encodes_neighbours_only_when_a_chunk_completes()
    {
        // the decoder's own work per token, on a backend whose ops are free
        using var backend = new RecordingBackend();
        using var model = new RandomRetroModel(backend, Config, seed: 1);
        using var decoder = new RetroDecoder(Config, model.Bind(Config), backend);
        using var session = decoder.CreateSession();
        session.Prefill(_tokens.AsSpan(0, 5), null); // chunk 0 closed-book
        session.Step(1);
        long before = GC.GetAllocatedBytesForCurrentThread();
        int ops = backend.Ops;
        session.Step(2); // position 6
        int plainStep = backend.Ops - ops;
        (GC.GetAllocatedBytesForCurrentThread() - before).ShouldBe(0);
        IReadOnlyList<int[]> nb = [[1, 2, 3]];
        ops = backend.Ops;
        session.Step(3, nb); // position 7 completes chunk 1
        (backend.Ops - ops).ShouldBeGreaterThan(plainStep + 10);
        ops = backend.Ops;
        session.Step(4);
        (backend.Ops - ops).ShouldBe(plainStep + 2 * 5); // + CCA at 2 layers: norm, q, RoPE on q, attention, o
    }

    [Fact]
    public void Stepping_sessions_as_a_batch_equals_stepping_each_alone()
    {
        int v = Config.VocabSize, m = Config.ChunkSize;
        int[] starts = [2, 7, 0]; // sessions at different positions; chunk completions fall on different steps
        var alone = new RetroSession[3];
        var together = new RetroSession[3];
        for (int b = 0; b < 3; b++)
        {
            alone[b] = _decoder.CreateSession();
            together[b] = _decoder.CreateSession();
            if (starts[b] > 0)
            {
                alone[b].Prefill(_tokens.AsSpan(0, starts[b]), Neighbours);
                together[b].Prefill(_tokens.AsSpan(0, starts[b]), Neighbours);
            }
        }
        // session 2 is closed-book throughout; the others get the table's neighbours
        IReadOnlyList<int[]>? For(int b, RetroSession s) => b == 2 || !s.NextCompletesChunk ? null : Neighbours(s.NextChunkIndex);
        using var batch = new RetroBatch(_decoder, 4);
        var tokens = new int[3];
        var lists = new IReadOnlyList<int[]>?[3];
        var batched = new float[3 * v];
        for (int step = 0; step < 12; step++)
        {
            for (int b = 0; b < 3; b++)
            {
                tokens[b] = _tokens[together[b].Length];
                lists[b] = For(b, together[b]);
            }
            _decoder.StepBatch(batch, together, tokens, lists, batched);
            for (int b = 0; b < 3; b++)
            {
                var single = alone[b].Step(tokens[b], For(b, alone[b])).ToArray();
                ParityAssert.Close($"session {b} step {step} (position {alone[b].Length - 1})", single, batched.AsSpan(b * v, v), v, Tolerance);
                together[b].Length.ShouldBe(alone[b].Length);
            }
        }
        foreach (var s in alone) s.Dispose();
        foreach (var s in together) s.Dispose();
        (starts[1] + 12).ShouldBeGreaterThan(2 * m); // crossed several chunk boundaries
    }

    [Fact]
    public void Feeding_segments_as_a_batch_equals_feeding_each_alone()
    {
        int v = Config.VocabSize, m = Config.ChunkSize;
        int[] starts = [0, 3, 6];
        var alone = new RetroSession[3];
        var together = new RetroSession[3];
        // session 2 is closed-book throughout; the others get the table's neighbours
        Func<int, IReadOnlyList<int[]>?> Provider(int b) => b == 2 ? _ => null : Neighbours;
        for (int b = 0; b < 3; b++)
        {
            alone[b] = _decoder.CreateSession();
            together[b] = _decoder.CreateSession();
            if (starts[b] > 0)
            {
                alone[b].Prefill(_tokens.AsSpan(0, starts[b]), Provider(b));
                together[b].Prefill(_tokens.AsSpan(0, starts[b]), Provider(b));
            }
        }
        using var batch = new RetroBatch(_decoder, 4, rowCapacity: 3 * m);
        var rng = new Random(3);
        var segments = new ReadOnlyMemory<int>[3];
        var lists = new IReadOnlyList<int[]>?[3];
        var batched = new float[3 * v];
        int rounds = 0;
        while (together.All(s => s.Length < _tokens.Length))
        {
            for (int b = 0; b < 3; b++)
            {
                // a segment: one to several tokens, of which only the first may complete a chunk
                int p = together[b].Length, longest = 1;
                while (p + longest < _tokens.Length && (p + longest + 1) % m != 0) longest++;
                segments[b] = _tokens.AsMemory(p, rng.Next(1, longest + 1));
                lists[b] = (p + 1) % m == 0 ? Provider(b)((p + 1) / m - 1) : null;
            }
            _decoder.SegmentBatch(batch, together, segments, lists, batched);
            for (int b = 0; b < 3; b++)
            {
                var single = alone[b].Prefill(segments[b].Span, Provider(b)).ToArray();
                ParityAssert.Close($"session {b} round {rounds} (positions up to {alone[b].Length - 1})", single, batched.AsSpan(b * v, v), v, Tolerance);
                together[b].Length.ShouldBe(alone[b].Length);
            }
            rounds++;
        }
        together.Min(s => s.Length).ShouldBeGreaterThan(3 * m); // crossed several chunk boundaries, with and without neighbours
        rounds.ShouldBeGreaterThan(3);
        foreach (var s in alone) s.Dispose();
        foreach (var s in together) s.Dispose();
    }

    [Fact]
    public void Segment_batch_contracts_fail_clearly_and_leave_sessions_unchanged()
    {
        using var a = _decoder.CreateSession();
        using var b = _decoder.CreateSession();
        using var batch = new RetroBatch(_decoder, 2, rowCapacity: 6);
        var logits = new float[2 * Config.VocabSize];
        Should.Throw<ArgumentException>(() => _decoder.SegmentBatch(batch, [a, b], [new[] { 1, 2, 3, 4 }, new[] { 5 }], null, logits))
            .Message.ShouldContain("chunk boundary"); // position 3 completes chunk 0 and is not the first
        Should.Throw<ArgumentException>(() => _decoder.SegmentBatch(batch, [a, b], [new[] { 1, 2, 3 }, new[] { 5, 6, 7, 8 }], null, logits));
        Should.Throw<ArgumentException>(() => _decoder.SegmentBatch(batch, [a, b], [new[] { 1, 2 }, new[] { 5, 6, 7 }, new[] { 1 }], null, logits));
        Should.Throw<ArgumentException>(() => _decoder.SegmentBatch(batch, [a, b], [new[] { 1, 2 }, Array.Empty<int>()], null, logits)).Message.ShouldContain("no tokens");
        Should.Throw<ArgumentException>(() => _decoder.SegmentBatch(batch, [a, b], [new[] { 1 }, new[] { 2 }], [[[1]], null], logits)).Message.ShouldContain("completes no chunk");
        Should.Throw<ArgumentOutOfRangeException>(() => _decoder.SegmentBatch(batch, [a, b], [new[] { 1 }, new[] { Config.VocabSize }], null, logits));
        a.Length.ShouldBe(0);
        b.Length.ShouldBe(0);
        _decoder.SegmentBatch(batch, [a, b], [new[] { 1, 2, 3 }, new[] { 4, 5, 6 }], null, logits); // 6 rows: exactly the capacity
        a.Length.ShouldBe(3);
        Should.Throw<ArgumentException>(() => _decoder.SegmentBatch(batch, [a, b], [new[] { 1, 2, 3 }, new[] { 3, 4, 5, 6 }], null, logits)).Message.ShouldContain("row capacity"); // 7 rows
    }

    [Fact]
    public void Batch_contracts_fail_clearly_and_leave_sessions_unchanged()
    {
        using var a = _decoder.CreateSession();
        using var b = _decoder.CreateSession();
        using var batch = new RetroBatch(_decoder, 2);
        var logits = new float[2 * Config.VocabSize];
        Should.Throw<ArgumentException>(() => _decoder.StepBatch(batch, [a, a], [1, 2], null, logits)).Message.ShouldContain("twice");
        Should.Throw<ArgumentException>(() => _decoder.StepBatch(batch, [a, b], [1], null, logits));
        Should.Throw<ArgumentException>(() => _decoder.StepBatch(batch, [a, b], [1, 2], [[[1]], null], logits)).Message.ShouldContain("completes no chunk");
        using var c = _decoder.CreateSession();
        Should.Throw<ArgumentException>(() => _decoder.StepBatch(batch, [a, b, c], [1, 2, 3], null, new float[3 * Config.VocabSize])).Message.ShouldContain("capacity");
        a.Length.ShouldBe(0);
        b.Length.ShouldBe(0);
    }
}

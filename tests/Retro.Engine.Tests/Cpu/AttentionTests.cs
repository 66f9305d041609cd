using Retro.Engine.Cpu;
using Retro.Engine.Tests.Support;

namespace Retro.Engine.Tests.Cpu;

public sealed class AttentionTests : IDisposable
{
    private readonly CpuBackend _backend = new(threads: 2);
    private readonly HostTensors _t;

    public AttentionTests() => _t = new HostTensors(_backend);

    public void Dispose()
    {
        _t.Dispose();
        _backend.Dispose();
    }

    [Theory]
    [InlineData(2, 5, 7, 9, 3, 4, false, 0, true)]    // padding mask, capacity > length
    [InlineData(1, 6, 6, 6, 2, 8, true, 0, false)]    // causal prefill
    [InlineData(3, 1, 10, 16, 4, 16, true, 9, false)] // decode: one query over a cache
    [InlineData(2, 4, 11, 11, 2, 5, true, 7, true)]   // causal continuation with a mask
    [InlineData(2, 19, 130, 130, 2, 32, false, 0, true)] // blocked Vector512 path: 19 queries (a partial group of 4), 130 keys
    [InlineData(1, 42, 60, 64, 2, 64, true, 11, true)]   // blocked path (2 query blocks of 21), causal with an offset, capacity > length
    [InlineData(1, 40, 5, 8, 4, 16, true, 0, true)]      // blocked path with fewer keys than one vector
    [InlineData(1, 1, 130, 512, 8, 64, true, 129, true)] // direct path (decoding): one query over a masked cache, 130 keys
    [InlineData(2, 5, 37, 40, 3, 64, true, 20, true)]    // direct path: a few causal queries, keys not a multiple of 4
    [InlineData(1, 2, 33, 33, 2, 128, false, 0, false)]  // direct path: head dim 128 (two 64-value passes)
    [InlineData(2, 3, 5, 8, 1, 48, true, 0, true)]       // direct path: head dim 48 (16-value passes only), fewer keys than a vector
    [InlineData(2, 5, 7, 9, 3, 4, false, 0, true, true)]     // with sinks: the TensorPrimitives path
    [InlineData(2, 19, 130, 130, 2, 32, false, 0, true, true)] // with sinks: the blocked path
    [InlineData(1, 1, 130, 512, 8, 64, true, 129, true, true)] // with sinks: the direct path
    public void Matches_naive_attention(int batch, int tq, int tk, int capacity, int heads, int hd, bool causal, int offset, bool masked,
        bool withSinks = false)
    {
        int d = heads * hd;
        var qs = Numerics.Random(batch * tq * 3 * d, seed: 1);       // a fused qkv-like wide buffer: q in the middle third
        var ks = Numerics.Random(batch * capacity * d, seed: 2);
        var vs = Numerics.Random(batch * capacity * d, seed: 3);
        var mask = new int[batch * capacity];
        var rng = new Random(4);
        for (int i = 0; i < mask.Length; i++) mask[i] = masked ? (rng.Next(4) == 0 ? 0 : 1) : 1;
        if (masked) for (int j = 0; j < capacity; j++) mask[j] = 0; // batch item 0 sees nothing: zero output
        var shape = new AttentionShape(batch, tq, tk, capacity, heads, hd, 1f / MathF.Sqrt(hd), causal, offset);
        var q = _t.F32(qs, batch * tq, 3 * d).SliceColumns(d, d);
        var o = _t.Empty(DType.F32, batch * tq, d);
        // sinks around the scores' range (|q·k|/sqrt(hd) is ~1 here): some heads mostly attend, some mostly not
        var sinks = Numerics.Random(heads, seed: 5).Select(x => 4 * x).ToArray();

        _backend.Attention(q, _t.F32(ks, batch * capacity, d), _t.F32(vs, batch * capacity, d),
            masked ? _t.I32(mask, batch, capacity) : default, o, shape, withSinks ? _t.F32(sinks, 1, heads) : default);

        var expected = new float[batch * tq * d];
        var p = new double[tk];
        for (int b = 0; b < batch; b++)
        for (int h = 0; h < heads; h++)
        for (int i = 0; i < tq; i++)
        {
            double max = double.NegativeInfinity;
            for (int j = 0; j < tk; j++)
            {
                bool visible = (!causal || j <= offset + i) && (!masked || mask[b * capacity + j] != 0);
                if (!visible) { p[j] = double.NegativeInfinity; continue; }
                double s = 0;
                for (int e = 0; e < hd; e++) s += (double)qs[(b * tq + i) * 3 * d + d + h * hd + e] * ks[(b * capacity + j) * d + h * hd + e];
                p[j] = s / Math.Sqrt(hd);
                max = Math.Max(max, p[j]);
            }
            if (double.IsNegativeInfinity(max)) continue;
            double sink = withSinks ? sinks[h] : double.NegativeInfinity;
            max = Math.Max(max, sink);
            double z = Math.Exp(sink - max); // a key of logit sink and value 0
            for (int j = 0; j < tk; j++) { p[j] = Math.Exp(p[j] - max); z += p[j]; }
            for (int e = 0; e < hd; e++)
            {
                double acc = 0;
                for (int j = 0; j < tk; j++) acc += p[j] / z * vs[(b * capacity + j) * d + h * hd + e];
                expected[(b * tq + i) * d + h * hd + e] = (float)acc;
            }
        }
        Numerics.ShouldBeClose(_t.Read(o), expected, 1e-5, $"attention {shape}");
    }

    [Fact]
    public void Rejects_inconsistent_shapes()
    {
        var q = _t.Empty(DType.F32, 4, 8);
        var kv = _t.Empty(DType.F32, 4, 8);
        var o = _t.Empty(DType.F32, 4, 8);
        var shape = new AttentionShape(1, 4, 5, 4, 2, 4, 0.5f);
        Should.Throw<ArgumentException>(() => _backend.Attention(q, kv, kv, default, o, shape)).Message.ShouldContain("KeyLength");
        Should.Throw<ArgumentException>(() => _backend.Attention(q, kv, kv, default, o, shape with { KeyLength = 4 }, _t.Empty(DType.F32, 1, 3)))
            .Message.ShouldContain("sinks"); // one per head (2), not 3
        Should.Throw<ArgumentException>(() => _backend.Attention(q, kv, kv, default, q, shape with { KeyLength = 4 }))
            .Message.ShouldContain("alias");
    }

    [Fact]
    public void A_batch_of_calls_equals_the_calls_one_by_one_and_is_checked_before_any_runs()
    {
        // decoding-batch items (each over its own cache, one or a few queries) and a prefill-like item of several
        // heads: one job over all of them must give exactly what separate calls give
        (int Batch, int Queries, int Keys, int Capacity, int Heads, int HeadDim, bool Causal, int Offset, bool Masked)[] items =
        [
            (1, 1, 130, 160, 4, 64, true, 129, false),
            (1, 3, 40, 64, 4, 64, true, 37, false),
            (1, 1, 12, 12, 4, 64, false, 0, true),
            (2, 5, 9, 16, 2, 16, true, 4, true),
            (1, 24, 24, 24, 4, 64, true, 0, false),
            (1, 1, 0, 8, 4, 64, false, 0, false), // no key: zero output
        ];
        var batch = new List<AttentionItem>();
        var separate = new List<Tensor>();
        int seed = 10;
        foreach (var (b, tq, tk, cap, heads, hd, causal, offset, masked) in items)
        {
            int d = heads * hd;
            var q = _t.F32(Numerics.Random(b * tq * d, seed: seed++), b * tq, d);
            var k = _t.F32(Numerics.Random(b * cap * d, seed: seed++), b * cap, d);
            var v = _t.F32(Numerics.Random(b * cap * d, seed: seed++), b * cap, d);
            var mask = new int[b * cap];
            for (int i = 0; i < mask.Length; i++) mask[i] = i % 3 == 0 ? 0 : 1;
            var m = masked ? _t.I32(mask, b, cap) : default;
            var shape = new AttentionShape(b, tq, tk, cap, heads, hd, 1f / MathF.Sqrt(hd), causal, offset);
            var alone = _t.Empty(DType.F32, b * tq, d);
            _backend.Attention(q, k, v, m, alone, shape);
            separate.Add(alone);
            batch.Add(new AttentionItem(q, k, v, m, _t.F32(Numerics.Random(b * tq * d, seed: 99), b * tq, d), shape));
        }
        _backend.AttentionBatch(batch.ToArray());
        for (int i = 0; i < items.Length; i++) _t.Read(batch[i].Output).ShouldBe(_t.Read(separate[i]), $"item {i}");

        // a bad item anywhere: nothing runs
        var zeros = new float[batch[0].Output.ElementCount];
        _backend.Upload<float>(zeros, batch[0].Output);
        var bad = batch.ToArray();
        bad[^1] = bad[^1] with { Shape = bad[^1].Shape with { KeyLength = 9 } }; // beyond its capacity of 8
        Should.Throw<ArgumentException>(() => _backend.AttentionBatch(bad)).Message.ShouldContain("KeyLength");
        _t.Read(batch[0].Output).ShouldBe(zeros); // item 0 did not run
    }
}

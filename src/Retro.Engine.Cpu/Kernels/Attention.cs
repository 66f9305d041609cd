using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Retro.Engine.Cpu.Kernels;

/// <summary>
/// Masked multi-head attention, one (batch item, head) pair per part: for each query, scores over the visible keys,
/// a softmax, then the weighted sum of values. Scratch is one row of scores per thread. With sinks, head h's softmax
/// also counts exp(sink[h]) for a key whose value is 0 (a row with no visible key still outputs exactly 0).
/// </summary>
internal static unsafe class Attention
{
    [ThreadStatic] private static float* t_scores;
    [ThreadStatic] private static int t_scoresLength;
    [ThreadStatic] private static AttentionJob? t_job;

    /// <summary>Pointers and strides of one call.</summary>
    public struct Args
    {
        public float* Q; public int Ldq;
        public float* K; public int Ldk;
        public float* V; public int Ldv;
        public int* Mask; public int Ldm;
        public float* O; public int Ldo;
        /// <summary>Null, or one sink logit per head: a key of value 0 that every query row also attends to.</summary>
        public float* Sinks;
        public AttentionShape Shape;
    }

    /// <summary>Head h's sink logit, or −∞ when the call has none.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Sink(in Args a, int h) => a.Sinks != null ? a.Sinks[h] : float.NegativeInfinity;

    public static void Run(WorkerPool pool, in Args a)
    {
        var job = t_job ??= new AttentionJob();
        job.A = a;
        int pairs = a.Shape.Batch * a.Shape.Heads;
        int queryBlocks = 1;
        if (pairs < 2 * pool.Parallelism && a.Shape.QueryLength > 1)
            queryBlocks = Math.Min(a.Shape.QueryLength, (2 * pool.Parallelism + pairs - 1) / pairs);
        job.QueryBlocks = queryBlocks;
        pool.Run(job, pairs * queryBlocks);
        job.A = default;
    }

    [ThreadStatic] private static ManyJob? t_many;

    /// <summary>
    /// Runs items[0 .. count) (independent calls, e.g. the sequences of a decoding batch, each over its own cache) as
    /// one parallel job over every (item, batch item, head) pair; queries are split further only when there are too
    /// few pairs to occupy the pool.
    /// </summary>
    public static void RunMany(WorkerPool pool, Args[] items, int count)
    {
        if (count == 1)
        {
            Run(pool, items[0]);
            return;
        }
        int pairs = 0;
        for (int i = 0; i < count; i++) pairs += items[i].Shape.Batch * items[i].Shape.Heads;
        var job = t_many ??= new ManyJob();
        if (job.Starts.Length < count + 1) job.Starts = new int[Math.Max(count + 1, 17)];
        job.Items = items;
        job.Count = count;
        int total = 0;
        for (int i = 0; i < count; i++)
        {
            var s = items[i].Shape;
            int blocks = pairs < 2 * pool.Parallelism && s.QueryLength > 1
                ? Math.Min(s.QueryLength, (2 * pool.Parallelism + pairs - 1) / pairs)
                : 1;
            job.Starts[i] = total;
            total += s.Batch * s.Heads * blocks;
        }
        job.Starts[count] = total;
        pool.Run(job, total);
        job.Items = null;
    }

    private sealed class ManyJob : ParallelJob
    {
        public Args[]? Items;
        public int Count;
        public int[] Starts = [];

        public override void Execute(int part, int parts)
        {
            int i = 0;
            while (Starts[i + 1] <= part) i++;
            ref readonly var a = ref Items![i];
            int pairs = a.Shape.Batch * a.Shape.Heads;
            int blocks = (Starts[i + 1] - Starts[i]) / pairs;
            int local = part - Starts[i];
            int pair = local / blocks, block = local % blocks;
            int b = pair / a.Shape.Heads, h = pair % a.Shape.Heads;
            int q0 = (int)((long)a.Shape.QueryLength * block / blocks);
            int q1 = (int)((long)a.Shape.QueryLength * (block + 1) / blocks);
            Head(a, b, h, q0, q1);
        }
    }

    private sealed class AttentionJob : ParallelJob
    {
        public Args A;
        public int QueryBlocks;

        public override void Execute(int part, int parts)
        {
            int pair = part / QueryBlocks, block = part % QueryBlocks;
            int b = pair / A.Shape.Heads, h = pair % A.Shape.Heads;
            int q0 = (int)((long)A.Shape.QueryLength * block / QueryBlocks);
            int q1 = (int)((long)A.Shape.QueryLength * (block + 1) / QueryBlocks);
            Head(A, b, h, q0, q1);
        }
    }

    /// <summary>Queries [q0, q1) of batch item b, head h: the blocked Vector512 path when the head dim allows it.</summary>
    internal static void Head(in Args a, int b, int h, int q0, int q1)
    {
        if (Vector512.IsHardwareAccelerated && a.Shape.HeadDim % 16 == 0 && a.Shape.KeyLength > 0)
        {
            // Packing Kᵀ costs about what 16 queries' scores cost: below that, read the keys as they lie.
            if (q1 - q0 < DirectQueryLimit) HeadDirect(a, b, h, q0, q1);
            else HeadBlocked(a, b, h, q0, q1);
        }
        else HeadSimple(a, b, h, q0, q1);
    }

    /// <summary>This thread's row of scores, at least <paramref name="length"/> floats, 64-byte aligned.</summary>
    private static float* Scores(int length)
    {
        if (t_scoresLength < length)
        {
            NativeMemory.AlignedFree(t_scores);
            length = Math.Max(length, 64);
            t_scores = (float*)NativeMemory.AlignedAlloc((nuint)(length * sizeof(float)), 64);
            t_scoresLength = length;
        }
        return t_scores;
    }

    /// <summary>Software prefetch distance of <see cref="HeadDirect"/>, in keys (a stale address past the cache is harmless).</summary>
    private const int KeysAhead = 8;

    /// <summary>Fewer queries than this per (batch item, head) part take <see cref="HeadDirect"/> (decoding: 1).</summary>
    internal const int DirectQueryLimit = 8;

    /// <summary>
    /// One query at a time straight from the cache rows, for decoding (one or a few queries over many keys): scores
    /// of four keys per pass (four independent FMA chains, the query's vectors loaded once per pass), a padded
    /// vector softmax, then p·V over the visible keys, four value vectors per key at a time. Nothing is packed, so
    /// the cost is one read of the visible keys and values per query.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void HeadDirect(in Args a, int b, int h, int q0, int q1)
    {
        var s = a.Shape;
        int hd = s.HeadDim, keys = s.KeyLength;
        int padded = (keys + 15) & ~15;
        float* scores = Scores(padded);
        int* mask = a.Mask != null ? a.Mask + (long)b * a.Ldm : null;
        float* kBase = a.K + (long)b * s.KeyCapacity * a.Ldk + h * hd;
        float* vBase = a.V + (long)b * s.KeyCapacity * a.Ldv + h * hd;
        long ldk = a.Ldk, ldv = a.Ldv;
        var ninf = Vector512.Create(float.NegativeInfinity);
        for (int i = q0; i < q1; i++)
        {
            float* q = a.Q + ((long)b * s.QueryLength + i) * a.Ldq + h * hd;
            float* o = a.O + ((long)b * s.QueryLength + i) * a.Ldo + h * hd;
            int visible = s.Causal ? Math.Min(keys, s.QueryOffset + i + 1) : keys;

            // scores[j] = scale · q · k_j, four keys per pass
            int j = 0;
            for (; j + 4 <= visible; j += 4)
            {
                float* k0 = kBase + j * ldk, k1 = k0 + ldk, k2 = k1 + ldk, k3 = k2 + ldk;
                Vector512<float> c0 = default, c1 = default, c2 = default, c3 = default;
                for (int e = 0; e < hd; e += 16)
                {
                    if (Sse.IsSupported)
                    {
                        // the key rows lie a cache row apart (q | k | v of all heads): the hardware prefetcher
                        // loses them at every page, so fetch the rows KeysAhead keys on while these are scored
                        Sse.Prefetch0(k0 + KeysAhead * ldk + e);
                        Sse.Prefetch0(k1 + KeysAhead * ldk + e);
                        Sse.Prefetch0(k2 + KeysAhead * ldk + e);
                        Sse.Prefetch0(k3 + KeysAhead * ldk + e);
                    }
                    var qv = Vector512.Load(q + e);
                    c0 = Vector512.FusedMultiplyAdd(Vector512.Load(k0 + e), qv, c0);
                    c1 = Vector512.FusedMultiplyAdd(Vector512.Load(k1 + e), qv, c1);
                    c2 = Vector512.FusedMultiplyAdd(Vector512.Load(k2 + e), qv, c2);
                    c3 = Vector512.FusedMultiplyAdd(Vector512.Load(k3 + e), qv, c3);
                }
                scores[j] = s.Scale * Vector512.Sum(c0);
                scores[j + 1] = s.Scale * Vector512.Sum(c1);
                scores[j + 2] = s.Scale * Vector512.Sum(c2);
                scores[j + 3] = s.Scale * Vector512.Sum(c3);
            }
            for (; j < visible; j++)
            {
                float* k0 = kBase + j * ldk;
                Vector512<float> c0 = default;
                for (int e = 0; e < hd; e += 16) c0 = Vector512.FusedMultiplyAdd(Vector512.Load(k0 + e), Vector512.Load(q + e), c0);
                scores[j] = s.Scale * Vector512.Sum(c0);
            }
            if (mask != null)
                for (j = 0; j < visible; j++)
                    if (mask[j] == 0) scores[j] = float.NegativeInfinity;
            int vPadded = (visible + 15) & ~15;
            for (j = visible; j < vPadded; j++) scores[j] = float.NegativeInfinity;

            // p = exp(s − max), unnormalised; 1/Σp scales the output
            var maxv = ninf;
            for (j = 0; j < vPadded; j += 16) maxv = Vector512.Max(maxv, Vector512.Load(scores + j));
            float max = HorizontalMax(maxv);
            if (float.IsNegativeInfinity(max)) // no visible key: zero output
            {
                new Span<float>(o, hd).Clear();
                continue;
            }
            float sink = Sink(a, h);
            max = MathF.Max(max, sink);
            var mv = Vector512.Create(max);
            var sum = Vector512<float>.Zero;
            for (j = 0; j < vPadded; j += 16)
            {
                var p = FastMath.Exp(Vector512.Load(scores + j) - mv);
                p.Store(scores + j);
                sum += p;
            }
            var inv = Vector512.Create(1f / (Vector512.Sum(sum) + MathF.Exp(sink - max)));

            // o = (Σ_j p_j · v_j) / Σ_j p_j, 64 values of the head per pass over the keys
            int c = 0;
            for (; c + 64 <= hd; c += 64)
            {
                Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
                float* v = vBase + c;
                for (j = 0; j < visible; j++, v += ldv)
                {
                    if (Sse.IsSupported)
                    {
                        float* ahead = v + KeysAhead * ldv;
                        Sse.Prefetch0(ahead);
                        Sse.Prefetch0(ahead + 16);
                        Sse.Prefetch0(ahead + 32);
                        Sse.Prefetch0(ahead + 48);
                    }
                    var p = Vector512.Create(scores[j]);
                    a0 = Vector512.FusedMultiplyAdd(p, Vector512.Load(v), a0);
                    a1 = Vector512.FusedMultiplyAdd(p, Vector512.Load(v + 16), a1);
                    a2 = Vector512.FusedMultiplyAdd(p, Vector512.Load(v + 32), a2);
                    a3 = Vector512.FusedMultiplyAdd(p, Vector512.Load(v + 48), a3);
                }
                (a0 * inv).Store(o + c);
                (a1 * inv).Store(o + c + 16);
                (a2 * inv).Store(o + c + 32);
                (a3 * inv).Store(o + c + 48);
            }
            for (; c < hd; c += 16)
            {
                Vector512<float> a0 = default;
                float* v = vBase + c;
                for (j = 0; j < visible; j++, v += ldv) a0 = Vector512.FusedMultiplyAdd(Vector512.Create(scores[j]), Vector512.Load(v), a0);
                (a0 * inv).Store(o + c);
            }
        }
    }

    [ThreadStatic] private static float* t_blocked;
    [ThreadStatic] private static long t_blockedLength;

    /// <summary>
    /// Four queries at a time: scores = q·Kᵀ against Kᵀ packed per head (hd × keys, 16-aligned), so every key vector
    /// load feeds four FMAs; masked, causal-hidden and padding keys get −inf; exp(s − max) per row; then p·V with each
    /// value vector loaded once per four queries, scaled by 1/Σp at the end.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void HeadBlocked(in Args a, int b, int h, int q0, int q1)
    {
        var s = a.Shape;
        int hd = s.HeadDim, keys = s.KeyLength;
        int padded = (keys + 15) & ~15;
        long need = (long)hd * padded + 5L * padded;
        if (t_blockedLength < need)
        {
            NativeMemory.AlignedFree(t_blocked);
            t_blocked = (float*)NativeMemory.AlignedAlloc((nuint)(need * sizeof(float)), 64);
            t_blockedLength = need;
        }
        float* kt = t_blocked;                    // (hd, padded)
        float* scores = kt + (long)hd * padded;   // (4, padded)
        float* keyBias = scores + 4L * padded;    // (padded)
        int* mask = a.Mask != null ? a.Mask + (long)b * a.Ldm : null;
        float* kBase = a.K + (long)b * s.KeyCapacity * a.Ldk + h * hd;
        float* vBase = a.V + (long)b * s.KeyCapacity * a.Ldv + h * hd;

        for (int j = 0; j < keys; j++)
        {
            float* k = kBase + (long)j * a.Ldk;
            for (int e = 0; e < hd; e++) kt[(long)e * padded + j] = k[e];
        }
        for (int j = keys; j < padded; j++)
            for (int e = 0; e < hd; e++) kt[(long)e * padded + j] = 0f;

        // additive key bias: 0 for usable keys, −inf for masked keys and the padding up to a multiple of 16
        for (int j = 0; j < padded; j++)
            keyBias[j] = j < keys && (mask == null || mask[j] != 0) ? 0f : float.NegativeInfinity;

        var scale = Vector512.Create(s.Scale);
        float sink = Sink(a, h);
        float* inv = stackalloc float[4];
        for (int i0 = q0; i0 < q1; i0 += 4)
        {
            int rows = Math.Min(4, q1 - i0);
            float* qr0 = a.Q + ((long)b * s.QueryLength + i0) * a.Ldq + h * hd;
            float* qr1 = rows > 1 ? qr0 + a.Ldq : qr0;
            float* qr2 = rows > 2 ? qr1 + a.Ldq : qr1;
            float* qr3 = rows > 3 ? qr2 + a.Ldq : qr2;

            // scores[r, j] = scale · q_r · k_j
            for (int j = 0; j < padded; j += 16)
            {
                Vector512<float> c0 = default, c1 = default, c2 = default, c3 = default;
                float* kv = kt + j;
                for (int e = 0; e < hd; e++, kv += padded)
                {
                    var k = Vector512.Load(kv);
                    c0 = Vector512.FusedMultiplyAdd(Vector512.Create(qr0[e]), k, c0);
                    c1 = Vector512.FusedMultiplyAdd(Vector512.Create(qr1[e]), k, c1);
                    c2 = Vector512.FusedMultiplyAdd(Vector512.Create(qr2[e]), k, c2);
                    c3 = Vector512.FusedMultiplyAdd(Vector512.Create(qr3[e]), k, c3);
                }
                (c0 * scale).Store(scores + j);
                (c1 * scale).Store(scores + padded + j);
                (c2 * scale).Store(scores + 2 * padded + j);
                (c3 * scale).Store(scores + 3 * padded + j);
            }

            // softmax over the visible keys of each row, left unnormalised: p = exp(s − max), 1/Σp applied to the output
            for (int r = 0; r < 4; r++)
            {
                float* row = scores + r * padded;
                int visible = r >= rows ? 0 : s.Causal ? Math.Min(keys, s.QueryOffset + i0 + r + 1) : keys;
                var limit = Vector512.Create(visible);
                var max = Vector512.Create(float.NegativeInfinity);
                for (int j = 0; j < padded; j += 16)
                {
                    var hidden = Vector512.GreaterThanOrEqual(Vector512.Create(j) + Iota, limit).AsSingle();
                    var v = Vector512.ConditionalSelect(hidden, Vector512.Create(float.NegativeInfinity), Vector512.Load(row + j) + Vector512.Load(keyBias + j));
                    v.Store(row + j);
                    max = Vector512.Max(max, v);
                }
                float m = HorizontalMax(max);
                if (float.IsNegativeInfinity(m)) // no visible key: zero output
                {
                    new Span<float>(row, padded).Clear();
                    inv[r] = 0f;
                    continue;
                }
                m = MathF.Max(m, sink);
                var mv = Vector512.Create(m);
                var sum = Vector512<float>.Zero;
                for (int j = 0; j < padded; j += 16)
                {
                    var e = FastMath.Exp(Vector512.Load(row + j) - mv);
                    e.Store(row + j);
                    sum += e;
                }
                inv[r] = 1f / (Vector512.Sum(sum) + MathF.Exp(sink - m));
            }

            // out_r = (Σ_j p[r, j] · v_j) / Σ_j p[r, j], 16 values of the head at a time
            float* p0 = scores, p1 = scores + padded, p2 = scores + 2 * padded, p3 = scores + 3 * padded;
            float* o0 = a.O + ((long)b * s.QueryLength + i0) * a.Ldo + h * hd;
            for (int c = 0; c < hd; c += 16)
            {
                Vector512<float> c0 = default, c1 = default, c2 = default, c3 = default;
                float* v = vBase + c;
                for (int j = 0; j < keys; j++, v += a.Ldv)
                {
                    var vv = Vector512.Load(v);
                    c0 = Vector512.FusedMultiplyAdd(Vector512.Create(p0[j]), vv, c0);
                    c1 = Vector512.FusedMultiplyAdd(Vector512.Create(p1[j]), vv, c1);
                    c2 = Vector512.FusedMultiplyAdd(Vector512.Create(p2[j]), vv, c2);
                    c3 = Vector512.FusedMultiplyAdd(Vector512.Create(p3[j]), vv, c3);
                }
                (c0 * inv[0]).Store(o0 + c);
                if (rows > 1) (c1 * inv[1]).Store(o0 + a.Ldo + c);
                if (rows > 2) (c2 * inv[2]).Store(o0 + 2L * a.Ldo + c);
                if (rows > 3) (c3 * inv[3]).Store(o0 + 3L * a.Ldo + c);
            }
        }
    }

    private static readonly Vector512<int> Iota = Vector512.Create(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);

    private static float HorizontalMax(Vector512<float> v)
    {
        var m = Vector256.Max(v.GetLower(), v.GetUpper());
        var m2 = Vector128.Max(m.GetLower(), m.GetUpper());
        float r = m2[0];
        for (int i = 1; i < 4; i++) r = MathF.Max(r, m2[i]);
        return r;
    }

    /// <summary>One query at a time with TensorPrimitives (any head dim, any host).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void HeadSimple(in Args a, int b, int h, int q0, int q1)
    {
        var s = a.Shape;
        int hd = s.HeadDim;
        float* scores = Scores(s.KeyLength);
        int* mask = a.Mask != null ? a.Mask + (long)b * a.Ldm : null;
        float* kBase = a.K + (long)b * s.KeyCapacity * a.Ldk + h * hd;
        float* vBase = a.V + (long)b * s.KeyCapacity * a.Ldv + h * hd;
        for (int i = q0; i < q1; i++)
        {
            var q = new ReadOnlySpan<float>(a.Q + ((long)b * s.QueryLength + i) * a.Ldq + h * hd, hd);
            var o = new Span<float>(a.O + ((long)b * s.QueryLength + i) * a.Ldo + h * hd, hd);
            int visible = s.Causal ? Math.Min(s.KeyLength, s.QueryOffset + i + 1) : s.KeyLength;
            float max = float.NegativeInfinity;
            for (int j = 0; j < visible; j++)
            {
                if (mask != null && mask[j] == 0)
                {
                    scores[j] = float.NegativeInfinity;
                    continue;
                }
                float score = s.Scale * TensorPrimitives.Dot(q, new ReadOnlySpan<float>(kBase + (long)j * a.Ldk, hd));
                scores[j] = score;
                if (score > max) max = score;
            }
            o.Clear();
            if (float.IsNegativeInfinity(max)) continue; // no visible key: zero output
            float sink = Sink(a, h);
            max = MathF.Max(max, sink);
            float sum = MathF.Exp(sink - max); // the sink's share (value 0); 0 without one
            for (int j = 0; j < visible; j++)
            {
                float p = MathF.Exp(scores[j] - max); // exp(−inf) = 0 for masked keys
                scores[j] = p;
                sum += p;
            }
            float inv = 1f / sum;
            for (int j = 0; j < visible; j++)
            {
                float p = scores[j];
                if (p == 0f) continue;
                TensorPrimitives.MultiplyAdd(new ReadOnlySpan<float>(vBase + (long)j * a.Ldv, hd), p * inv, o, o);
            }
        }
    }
}

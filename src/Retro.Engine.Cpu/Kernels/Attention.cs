using System.Numerics.Tensors;
using System.Runtime.InteropServices;

namespace Retro.Engine.Cpu.Kernels;

/// <summary>
/// Masked multi-head attention, one (batch item, head) pair per part: for each query, scores over the visible keys,
/// a softmax, then the weighted sum of values. Scratch is one row of scores per thread.
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
        public AttentionShape Shape;
    }

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

    /// <summary>Queries [q0, q1) of batch item b, head h.</summary>
    internal static void Head(in Args a, int b, int h, int q0, int q1)
    {
        var s = a.Shape;
        int hd = s.HeadDim;
        if (t_scoresLength < s.KeyLength)
        {
            NativeMemory.AlignedFree(t_scores);
            int length = Math.Max(s.KeyLength, 64);
            t_scores = (float*)NativeMemory.AlignedAlloc((nuint)(length * sizeof(float)), 64);
            t_scoresLength = length;
        }
        float* scores = t_scores;
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
            float sum = 0f;
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

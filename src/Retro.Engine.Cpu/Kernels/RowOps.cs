using System.Numerics.Tensors;
using System.Runtime.CompilerServices;

namespace Retro.Engine.Cpu.Kernels;

/// <summary>The row-wise ops (norms, activations, element-wise, gathers, pooling), parallel over row ranges.</summary>
internal static unsafe class RowOps
{
    public enum Kind { LayerNorm, Gelu, Tanh, Add, AddBroadcast, Softmax, Rope, Embedding, EmbeddingAccumulate, Copy, MeanPool, L2Normalize }

    /// <summary>Operands of one call; which fields matter depends on <see cref="Kind"/>.</summary>
    public struct Args
    {
        public Kind Kind;
        public int Rows, Columns;
        public void* X; public int Ldx; public DType XType;
        public float* B; public int Ldb;        // second operand (Add), gamma (LayerNorm)
        public float* Beta;                      // LayerNorm
        public int* Ints; public int Ldi;        // ids (Embedding), positions (Rope), mask (MeanPool)
        public float* Y; public int Ldy;
        public float Eps;                        // LayerNorm eps, Rope theta
        public int Heads, HeadDim;               // Rope
        public int SequenceLength;               // MeanPool: x rows per output row
    }

    private const int MinElementsPerPart = 16 * 1024;
    [ThreadStatic] private static RowJob? t_job;

    public static void Run(WorkerPool pool, in Args a)
    {
        if (a.Rows == 0) return;
        long work = (long)a.Rows * a.Columns * (a.Kind == Kind.MeanPool ? a.SequenceLength : 1);
        int parts = (int)Math.Clamp(work / MinElementsPerPart, 1, Math.Min(a.Rows, 4 * pool.Parallelism));
        var job = t_job ??= new RowJob();
        job.A = a;
        pool.Run(job, parts);
        job.A = default;
    }

    private sealed class RowJob : ParallelJob
    {
        public Args A;

        public override void Execute(int part, int parts)
        {
            int r0 = (int)((long)A.Rows * part / parts), r1 = (int)((long)A.Rows * (part + 1) / parts);
            Rows(A, r0, r1);
        }
    }

    /// <summary>Rows [r0, r1), single-threaded.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Rows(in Args a, int r0, int r1)
    {
        int n = a.Columns;
        for (int r = r0; r < r1; r++)
        {
            float* x = (float*)a.X + (long)r * a.Ldx;
            float* y = a.Y + (long)r * a.Ldy;
            var xs = new ReadOnlySpan<float>(x, n);
            var ys = new Span<float>(y, n);
            switch (a.Kind)
            {
                case Kind.LayerNorm: LayerNorm.Row(x, a.B, a.Beta, a.Eps, y, n); break;
                case Kind.Gelu: Gelu.Apply(xs, ys); break;
                case Kind.Tanh: TensorPrimitives.Tanh(xs, ys); break;
                case Kind.Add: TensorPrimitives.Add(xs, new ReadOnlySpan<float>(a.B + (long)r * a.Ldb, n), ys); break;
                case Kind.AddBroadcast: TensorPrimitives.Add(xs, new ReadOnlySpan<float>(a.B, n), ys); break;
                case Kind.Softmax: TensorPrimitives.SoftMax(xs, ys); break;
                case Kind.Rope: Rope.Row(x, a.Ints[r], a.Heads, a.HeadDim, a.Eps); break;
                case Kind.Embedding:
                case Kind.EmbeddingAccumulate: GatherRow(a, a.Ints[r], y, a.Kind == Kind.EmbeddingAccumulate); break;
                case Kind.Copy: ConvertRow((byte*)a.X + (long)r * a.Ldx * DTypes.SizeOf(a.XType), a.XType, y, n, accumulate: false); break;
                case Kind.MeanPool: MeanPoolRow(a, r, ys); break;
                case Kind.L2Normalize:
                {
                    float norm = MathF.Max(TensorPrimitives.Norm(xs), 1e-12f);
                    TensorPrimitives.Multiply(xs, 1f / norm, ys);
                    break;
                }
            }
        }
    }

    private static void GatherRow(in Args a, int id, float* y, bool accumulate)
    {
        byte* row = (byte*)a.X + (long)id * a.Ldx * DTypes.SizeOf(a.XType);
        ConvertRow(row, a.XType, y, a.Columns, accumulate);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ConvertRow(byte* src, DType type, float* y, int n, bool accumulate)
    {
        var ys = new Span<float>(y, n);
        switch (type)
        {
            case DType.F32:
                if (accumulate) TensorPrimitives.Add(ys, new ReadOnlySpan<float>(src, n), ys);
                else new ReadOnlySpan<float>(src, n).CopyTo(ys);
                break;
            case DType.BF16:
            {
                ushort* s = (ushort*)src;
                for (int i = 0; i < n; i++)
                {
                    float v = BitConverter.Int32BitsToSingle(s[i] << 16);
                    y[i] = accumulate ? y[i] + v : v;
                }
                break;
            }
            default:
            {
                Half* s = (Half*)src;
                for (int i = 0; i < n; i++)
                {
                    float v = (float)s[i];
                    y[i] = accumulate ? y[i] + v : v;
                }
                break;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void MeanPoolRow(in Args a, int b, Span<float> y)
    {
        y.Clear();
        int count = 0;
        int* mask = a.Ints + (long)b * a.Ldi;
        for (int t = 0; t < a.SequenceLength; t++)
        {
            if (mask[t] == 0) continue;
            var x = new ReadOnlySpan<float>((float*)a.X + ((long)b * a.SequenceLength + t) * a.Ldx, a.Columns);
            TensorPrimitives.Add(y, x, y);
            count++;
        }
        if (count > 0) TensorPrimitives.Multiply(y, 1f / count, y);
    }
}

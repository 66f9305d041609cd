using System.Diagnostics;
using System.Runtime.InteropServices;
using Retro.Engine;
using Retro.Engine.Cpu;
using Retro.Engine.Cpu.Kernels;

namespace Retro.Benchmarks.Engine;

/// <summary>
/// <c>smallm</c>: the CPU backend's two matrix-product paths on the few-row products of batched decoding (M = 1..64
/// rows against the shipped decoder's BF16 weight shapes): the unpacked <c>Gemv</c> kernel and the packed
/// <c>Gemm</c>, each timed on the same operands (median of repeats, GFLOP/s). It places the crossover
/// <c>Gemm.GemvMaxRows</c>. No peer: both sides are ours.
/// </summary>
public sealed unsafe class SmallMSuite : ISuite
{
    public string Name => "smallm";

    public string Description => "few-row products (batched decoding): unpacked Gemv vs packed Gemm, GFLOP/s by M";

    public int Run(string[] args)
    {
        int threads = args.Contains("--threads") ? int.Parse(args[Array.IndexOf(args, "--threads") + 1]) : 2;
        using var pool = new WorkerPool(threads);
        (int N, int K, string What)[] shapes = [(768, 256, "qkv"), (1024, 256, "fc_in"), (256, 1024, "fc_out"), (16384, 256, "lm_head")];
        int[] ms = [1, 4, 5, 8, 12, 16, 24, 32, 48, 64];
        Console.WriteLine($"smallm: BF16 weights, F32 activations, {threads} threads; GFLOP/s (median of 15), gemv / gemm (packed per call) / packed at load");
        foreach (var (n, k, what) in shapes)
        {
            var w = (ushort*)NativeMemory.AlignedAlloc((nuint)(n * k * 2), 64);
            var x = (float*)NativeMemory.AlignedAlloc((nuint)(64 * k * 4), 64);
            var y = (float*)NativeMemory.AlignedAlloc((nuint)(64 * n * 4), 64);
            var rng = new Random(1);
            for (long i = 0; i < (long)n * k; i++) w[i] = (ushort)(BitConverter.SingleToInt32Bits((float)(rng.NextDouble() - 0.5)) >> 16);
            for (int i = 0; i < 64 * k; i++) x[i] = (float)(rng.NextDouble() - 0.5);
            using var packed = PackedWeight.Pack(w, DType.BF16, n, k, k);
            var line = new List<string>();
            foreach (int m in ms)
            {
                var a = new Gemm.Args { X = x, Ldx = k, W = w, Ldw = k, WType = DType.BF16, Y = y, Ldy = n, M = m, N = n, K = k };
                double gv = Time(() => Gemv.Run(pool, a), m, n, k);
                double gm = m >= 2 ? Time(() => Gemm.RunPacked(pool, a), m, n, k) : double.NaN;
                double pk = Time(() => PackedGemm.Run(pool, a, packed), m, n, k);
                line.Add($"M {m}: {gv:F0} / {gm:F0} / {pk:F0}");
            }
            Console.WriteLine($"  {what} {n}x{k}: {string.Join(", ", line)}");
            NativeMemory.AlignedFree(w); NativeMemory.AlignedFree(x); NativeMemory.AlignedFree(y);
        }
        return 0;
    }

    private static double Time(Action run, int m, int n, int k)
    {
        for (int i = 0; i < 20; i++) run();
        var times = new double[15];
        for (int r = 0; r < times.Length; r++)
        {
            int reps = 0;
            long t0 = Stopwatch.GetTimestamp();
            do { run(); reps++; } while (Stopwatch.GetElapsedTime(t0).TotalMilliseconds < 5);
            times[r] = Stopwatch.GetElapsedTime(t0).TotalSeconds / reps;
        }
        Array.Sort(times);
        return 2.0 * m * n * k / times[times.Length / 2] / 1e9;
    }
}

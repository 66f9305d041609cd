using System.Numerics.Tensors;
using BenchmarkDotNet.Attributes;
using Retro.VectorStore.Metrics;

namespace Retro.Benchmarks.VectorStore;

/// <summary>
/// The HNSW distance kernels against TensorPrimitives on one pair of vectors (the shape of every HNSW step):
/// <c>dotnet run -c Release --project tests/Retro.Benchmarks -- --filter *DistanceBenchmarks*</c>.
/// </summary>
[MemoryDiagnoser]
public unsafe class DistanceBenchmarks
{
    private float[] _a = [];
    private float[] _b = [];
    private byte[] _codes = [];

    [Params(128, 384, 768)]
    public int Dimension { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var r = new Random(1);
        _a = new float[Dimension];
        _b = new float[Dimension];
        _codes = new byte[Dimension];
        for (int i = 0; i < Dimension; i++)
        {
            _a[i] = (float)r.NextDouble();
            _b[i] = (float)r.NextDouble();
            _codes[i] = (byte)r.Next(256);
        }
    }

    [Benchmark(Baseline = true)]
    public float TensorPrimitivesDot() => TensorPrimitives.Dot(_a, _b);

    [Benchmark]
    public float HandDot()
    {
        fixed (float* a = _a, b = _b) return VectorMath.Dot(a, b, Dimension);
    }

    [Benchmark]
    public float TensorPrimitivesL2() => TensorPrimitives.Distance(_a, _b);

    [Benchmark]
    public float HandL2Squared()
    {
        fixed (float* a = _a, b = _b) return VectorMath.L2Squared(a, b, Dimension);
    }

    [Benchmark]
    public float HandDotU8()
    {
        fixed (float* a = _a) fixed (byte* c = _codes) return VectorMath.DotU8(a, c, Dimension);
    }
}

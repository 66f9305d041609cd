using System.Runtime.Intrinsics.X86;
using Retro.VectorStore.Metrics;
using Retro.VectorStore.Vectors;

namespace Retro.VectorStore.Tests;

/// <summary>The int8 kernels and the query's quantization, against scalar arithmetic.</summary>
public sealed unsafe class QuantizationTests
{
    [Theory]
    [InlineData(384)]
    [InlineData(100)]
    [InlineData(31)]
    public void DotU8S8_IsExact(int n)
    {
        if (!AvxVnni.IsSupported) return; // the kernel exists only where the instruction does
        var rng = new Random(n);
        var codes = new byte[n];
        var q = new sbyte[n];
        rng.NextBytes(codes);
        for (int i = 0; i < n; i++) q[i] = (sbyte)rng.Next(-127, 128);
        codes[0] = 255;
        q[0] = -127;
        long expected = 0;
        for (int i = 0; i < n; i++) expected += codes[i] * q[i];
        fixed (byte* c = codes)
        fixed (sbyte* p = q)
            VectorMath.DotU8S8(p, c, n).ShouldBe((int)expected);
    }

    [Fact]
    public void QuantizedQuery_ApproximatesTheFloatDot()
    {
        const int d = 64;
        var data = TestData.Clustered(500, d, clusters: 5, seed: 4);
        var storage = VectorStorage.InMemory(d);
        storage.EnsureCapacity(data.Length);
        for (int i = 0; i < data.Length; i++) storage.Write((uint)i, data[i]);
        var quantized = QuantizedVectors.Train(storage, data.Length);
        quantized.Encode(storage, 0, data.Length);
        var query = data[7];
        var scaled = new float[d];
        var codes = new sbyte[d];
        float offset = quantized.PrepareQuery(query, scaled, out _);
        float step = quantized.QuantizeQuery(scaled, codes);
        step.ShouldBeGreaterThan(0f);
        for (uint node = 0; node < 50; node++)
        {
            byte* c = quantized.Pointer(node);
            float exact = 0, asymmetric = offset, integer = 0;
            for (int j = 0; j < d; j++)
            {
                exact += query[j] * data[node][j];
                asymmetric += scaled[j] * c[j];
                integer += codes[j] * c[j];
            }
            integer = offset + step * integer;
            // code rounding: at most scale/2 per dimension; the query's: at most step/2 per dimension times a code ≤ 255
            asymmetric.ShouldBe(exact, 0.05f);
            integer.ShouldBe(asymmetric, d * 0.5f * step * 255f);
            integer.ShouldBe(exact, 0.08f);
        }
    }

    [Fact]
    public void ZeroQuery_QuantizesToZero()
    {
        var storage = VectorStorage.InMemory(8);
        storage.EnsureCapacity(1);
        storage.Write(0, [1, 0, 0, 0, 0, 0, 0, 0]);
        var quantized = QuantizedVectors.Train(storage, 1);
        var codes = new sbyte[8];
        codes.AsSpan().Fill(5);
        quantized.QuantizeQuery(new float[8], codes).ShouldBe(0f);
        codes.ShouldAllBe(c => c == 0);
    }
}

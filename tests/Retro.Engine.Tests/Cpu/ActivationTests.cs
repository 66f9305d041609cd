using Retro.Engine.Cpu;
using Retro.Engine.Cpu.Kernels;
using Retro.Engine.Tests.Support;

namespace Retro.Engine.Tests.Cpu;

public sealed class ActivationTests : IDisposable
{
    // The contract of the erf kernel (float32 result vs exact erf).
    private const double ErfAbsoluteTolerance = 1e-7;

    private readonly CpuBackend _backend = new(threads: 2);
    private readonly HostTensors _t;

    public ActivationTests() => _t = new HostTensors(_backend);

    public void Dispose()
    {
        _t.Dispose();
        _backend.Dispose();
    }

    [Fact]
    public void Erf_is_within_1e7_of_exact_on_a_dense_grid_in_every_code_path()
    {
        const int count = 200_003; // odd: exercises the vector bodies and the scalar tails
        var x = new float[count];
        for (int i = 0; i < count; i++) x[i] = -6f + 12f * i / (count - 1);
        var vector = new float[count];
        Gelu.Erf(x, vector);
        double worst = 0;
        float worstAt = 0;
        for (int i = 0; i < count; i++)
        {
            double exact = Numerics.Erf(x[i]);
            foreach (float got in new[] { vector[i], Gelu.Erf(x[i]) })
            {
                double e = Math.Abs(got - exact);
                if (e > worst) { worst = e; worstAt = x[i]; }
            }
        }
        worst.ShouldBeLessThanOrEqualTo(ErfAbsoluteTolerance, $"worst at x = {worstAt}");
    }

    [Fact]
    public void Fast_exp_is_within_2_ulp_and_zero_below_the_float_range()
    {
        var xs = new float[16 * 4001];
        for (int i = 0; i < xs.Length; i++) xs[i] = -87.3f + (88.3f + 87.3f) * i / (xs.Length - 1);
        for (int i = 0; i < xs.Length; i += 16)
        {
            var v512 = FastMath.Exp(System.Runtime.Intrinsics.Vector512.Create(xs, i));
            var v256 = FastMath.Exp(System.Runtime.Intrinsics.Vector256.Create(xs, i));
            for (int l = 0; l < 16; l++)
            {
                double exact = Math.Exp(xs[i + l]);
                double tolerance = 2 * Math.ScaleB(1, Math.ILogB((float)exact) - 23); // 2 ulp
                Math.Abs(v512[l] - exact).ShouldBeLessThanOrEqualTo(tolerance, $"exp({xs[i + l]}) = {v512[l]}, exact {exact}");
                if (l < 8) Math.Abs(v256[l] - exact).ShouldBeLessThanOrEqualTo(tolerance, $"exp256({xs[i + l]})");
            }
        }
        FastMath.Exp(System.Runtime.Intrinsics.Vector512.Create(float.NegativeInfinity)).ShouldBe(System.Runtime.Intrinsics.Vector512<float>.Zero);
        FastMath.Exp(System.Runtime.Intrinsics.Vector512.Create(-88f)).ShouldBe(System.Runtime.Intrinsics.Vector512<float>.Zero);
    }

    [Fact]
    public void Gelu_matches_exact_definition_including_far_tails()
    {
        var xs = new float[1001];
        for (int i = 0; i < xs.Length; i++) xs[i] = -20f + 40f * i / (xs.Length - 1);
        xs[0] = float.MinValue / 2;
        var x = _t.F32(xs, 7, 143);
        var y = _t.Empty(DType.F32, 7, 143);
        _backend.Gelu(x, y);
        var got = _t.Read(y);
        for (int i = 0; i < xs.Length; i++)
        {
            double exact = Numerics.Gelu(xs[i]);
            double tolerance = 2e-7 * Math.Max(1, Math.Abs(xs[i])) + 1e-30;
            Math.Abs(got[i] - exact).ShouldBeLessThanOrEqualTo(tolerance, $"gelu({xs[i]}) = {got[i]}, exact {exact}");
        }
    }

    [Fact]
    public void LayerNorm_matches_two_pass_reference_and_works_in_place()
    {
        const int rows = 5, n = 37;
        var xs = Numerics.Random(rows * n, seed: 3, scale: 4f);
        for (int i = 0; i < xs.Length; i++) xs[i] += 100f; // a large mean tests the centred variance
        var g = Numerics.Random(n, seed: 4);
        var b = Numerics.Random(n, seed: 5);
        var x = _t.F32(xs, rows, n);
        _backend.LayerNorm(x, _t.F32(g, 1, n), _t.F32(b, 1, n), 1e-12f, x);
        var expected = new float[rows * n];
        for (int r = 0; r < rows; r++)
        {
            double mean = 0, var = 0;
            for (int i = 0; i < n; i++) mean += xs[r * n + i];
            mean /= n;
            for (int i = 0; i < n; i++) var += Math.Pow(xs[r * n + i] - mean, 2);
            var /= n;
            for (int i = 0; i < n; i++) expected[r * n + i] = (float)((xs[r * n + i] - mean) / Math.Sqrt(var + 1e-12) * g[i] + b[i]);
        }
        Numerics.ShouldBeClose(_t.Read(x), expected, 1e-5, "layernorm");
    }

    [Fact]
    public void Softmax_tanh_add_and_l2_normalise_match_definitions()
    {
        const int rows = 3, n = 21;
        var xs = Numerics.Random(rows * n, seed: 6, scale: 3f);
        var bs = Numerics.Random(rows * n, seed: 7);
        var x = _t.F32(xs, rows, n);
        var y = _t.Empty(DType.F32, rows, n);

        _backend.Softmax(x, y);
        var soft = _t.Read(y);
        _backend.Tanh(x, y);
        var tanh = _t.Read(y);
        _backend.Add(x, _t.F32(bs, rows, n), y);
        var sum = _t.Read(y);
        _backend.Add(x, _t.F32(bs[..n], 1, n), y);
        var broadcast = _t.Read(y);
        _backend.L2Normalize(x, y);
        var unit = _t.Read(y);

        var eSoft = new float[rows * n]; var eTanh = new float[rows * n]; var eSum = new float[rows * n];
        var eBroadcast = new float[rows * n]; var eUnit = new float[rows * n];
        for (int r = 0; r < rows; r++)
        {
            double max = double.MinValue, z = 0, norm = 0;
            for (int i = 0; i < n; i++) max = Math.Max(max, xs[r * n + i]);
            for (int i = 0; i < n; i++) { z += Math.Exp(xs[r * n + i] - max); norm += (double)xs[r * n + i] * xs[r * n + i]; }
            for (int i = 0; i < n; i++)
            {
                int at = r * n + i;
                eSoft[at] = (float)(Math.Exp(xs[at] - max) / z);
                eTanh[at] = (float)Math.Tanh(xs[at]);
                eSum[at] = xs[at] + bs[at];
                eBroadcast[at] = xs[at] + bs[i];
                eUnit[at] = (float)(xs[at] / Math.Sqrt(norm));
            }
        }
        Numerics.ShouldBeClose(soft, eSoft, 1e-6, "softmax");
        Numerics.ShouldBeClose(tanh, eTanh, 1e-6, "tanh");
        Numerics.ShouldBeClose(sum, eSum, 1e-7, "add");
        Numerics.ShouldBeClose(broadcast, eBroadcast, 1e-7, "add broadcast");
        Numerics.ShouldBeClose(unit, eUnit, 1e-6, "l2 normalise");
    }

    [Fact]
    public void Embedding_gathers_and_accumulates_from_every_float_type()
    {
        const int vocab = 11, d = 19;
        var table = Numerics.Random(vocab * d, seed: 8);
        int[] ids = [3, 0, 10, 3];
        foreach (var type in new[] { DType.F32, DType.BF16, DType.F16 })
        {
            var w = _t.Weights(table, vocab, d, type, out var rounded);
            var y = _t.F32(Enumerable.Repeat(1f, ids.Length * d).ToArray(), ids.Length, d);
            var idTensor = _t.I32(ids, 1, ids.Length);
            _backend.Embedding(w, idTensor, y, accumulate: true);
            var accumulated = _t.Read(y);
            _backend.Embedding(w, idTensor, y);
            var gathered = _t.Read(y);
            var expected = new float[ids.Length * d];
            for (int i = 0; i < ids.Length; i++)
                for (int j = 0; j < d; j++) expected[i * d + j] = rounded[ids[i] * d + j];
            Numerics.ShouldBeClose(gathered, expected, 0, $"gather {type}");
            Numerics.ShouldBeClose(accumulated, expected.Select(v => v + 1f).ToArray(), 1e-7, $"accumulate {type}");
        }
        var bad = _t.I32([11], 1, 1);
        Should.Throw<ArgumentOutOfRangeException>(() => _backend.Embedding(_t.F32(table, vocab, d), bad, _t.Empty(DType.F32, 1, d)));
    }

    [Fact]
    public void Masked_mean_pool_averages_unmasked_rows_only()
    {
        const int batch = 2, length = 3, d = 5;
        var xs = Numerics.Random(batch * length * d, seed: 9);
        int[] mask = [1, 1, 0, 1, 0, 0];
        var y = _t.Empty(DType.F32, batch, d);
        _backend.MaskedMeanPool(_t.F32(xs, batch * length, d), _t.I32(mask, batch, length), y);
        var expected = new float[batch * d];
        for (int j = 0; j < d; j++)
        {
            expected[j] = (xs[j] + xs[d + j]) / 2;
            expected[d + j] = xs[3 * d + j];
        }
        Numerics.ShouldBeClose(_t.Read(y), expected, 1e-6, "mean pool");
    }

    [Theory]
    [InlineData(6, 10000f, new[] { 0, 7, 300 })]                               // scalar rotation
    [InlineData(64, 10000f, new[] { 0, 1, 1023, 1024, 5000, 70000, -3 })]      // vector rotation; table growth; beyond the table; negative
    [InlineData(40, 500f, new[] { 2, 9 })]                                     // another table (theta, head dim), a vector and a scalar part
    public void Rope_rotates_halves_by_position_angles(int hd, float theta, int[] positions)
    {
        const int heads = 2;
        int rows = positions.Length;
        var xs = Numerics.Random(rows * heads * hd, seed: 10);
        var x = _t.F32(xs, rows, heads * hd);
        _backend.Rope(x, _t.I32(positions, 1, rows), heads, hd, theta);
        var expected = (float[])xs.Clone();
        for (int r = 0; r < rows; r++)
        for (int h = 0; h < heads; h++)
        for (int j = 0; j < hd / 2; j++)
        {
            double angle = positions[r] * Math.Pow(theta, -2.0 * j / hd);
            int a = r * heads * hd + h * hd + j, b = a + hd / 2;
            expected[a] = (float)(xs[a] * Math.Cos(angle) - xs[b] * Math.Sin(angle));
            expected[b] = (float)(xs[b] * Math.Cos(angle) + xs[a] * Math.Sin(angle));
        }
        Numerics.ShouldBeClose(_t.Read(x), expected, 1e-6, "rope");
    }
}

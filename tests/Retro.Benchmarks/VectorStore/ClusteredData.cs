using Retro.VectorStore.Metrics;

namespace Retro.Benchmarks.VectorStore;

/// <summary>Seeded Gaussian-mixture vectors (normalised) and their exact neighbours by brute force.</summary>
internal static class ClusteredData
{
    /// <summary>
    /// <paramref name="count"/> unit vectors: a random centre (N(0,1) per dimension, one of <paramref name="clusters"/>)
    /// plus N(0, 0.6²) noise, normalised. Deterministic for a seed whatever the thread count.
    /// </summary>
    public static float[] Generate(int count, int dim, int clusters, int seed)
    {
        var centres = new float[clusters * dim];
        var r = new Random(seed);
        for (int i = 0; i < centres.Length; i++) centres[i] = Gaussian(r);
        var data = new float[(long)count * dim];
        const int Block = 4096;
        Parallel.For(0, (count + Block - 1) / Block, b =>
        {
            var rb = new Random(seed * 7919 + b);
            for (int i = b * Block; i < Math.Min(count, (b + 1) * Block); i++)
            {
                int c = rb.Next(clusters);
                var v = data.AsSpan(i * dim, dim);
                for (int j = 0; j < dim; j++) v[j] = centres[c * dim + j] + 0.6f * Gaussian(rb);
                VectorMath.Normalize(v);
            }
        });
        return data;
    }

    /// <summary>Indices of the <paramref name="k"/> largest inner products per query (row-major, nq × k), best first.</summary>
    public static unsafe int[] ExactNeighbours(ReadOnlySpan<float> base_, ReadOnlySpan<float> queries, int dim, int k)
    {
        int n = base_.Length / dim, nq = queries.Length / dim;
        var result = new int[nq * k];
        float[] b = base_.ToArray(), q = queries.ToArray();
        const int QueryBlock = 32, PointBlock = 256;
        Parallel.For(0, (nq + QueryBlock - 1) / QueryBlock, qb =>
        {
            int q0 = qb * QueryBlock, q1 = Math.Min(nq, q0 + QueryBlock);
            var bestScore = new float[(q1 - q0) * k];
            var bestId = new int[(q1 - q0) * k];
            bestScore.AsSpan().Fill(float.NegativeInfinity);
            fixed (float* pb = b, pq = q)
            {
                for (int p0 = 0; p0 < n; p0 += PointBlock)
                {
                    int p1 = Math.Min(n, p0 + PointBlock);
                    for (int qi = q0; qi < q1; qi++)
                    {
                        int o = (qi - q0) * k;
                        for (int p = p0; p < p1; p++)
                        {
                            float s = VectorMath.Dot(pq + (long)qi * dim, pb + (long)p * dim, dim);
                            if (s <= bestScore[o + k - 1]) continue;
                            int j = k - 1;
                            while (j > 0 && bestScore[o + j - 1] < s) { bestScore[o + j] = bestScore[o + j - 1]; bestId[o + j] = bestId[o + j - 1]; j--; }
                            bestScore[o + j] = s;
                            bestId[o + j] = p;
                        }
                    }
                }
            }
            Array.Copy(bestId, 0, result, q0 * k, (q1 - q0) * k);
        });
        return result;
    }

    private static float Gaussian(Random r)
    {
        double u1 = 1.0 - r.NextDouble(), u2 = r.NextDouble();
        return (float)(Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2));
    }
}

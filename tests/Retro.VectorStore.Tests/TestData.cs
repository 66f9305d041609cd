using Retro.VectorStore.Hnsw;
using Retro.VectorStore.Metrics;
using Retro.VectorStore.Vectors;
using Retro.Core;

namespace Retro.VectorStore.Tests;

/// <summary>Seeded, clustered, sign-symmetric vectors (clusters at ±c) and exact neighbours for recall tests.</summary>
internal static class TestData
{
    /// <summary>
    /// <paramref name="count"/> vectors around 2·<paramref name="clusters"/> centres ±c (so the set is symmetric under
    /// sign flip, the hard case for cosine/dot), noise 0.5 per dimension; normalised when <paramref name="normalise"/>.
    /// </summary>
    public static float[][] Clustered(int count, int dim, int clusters, int seed, bool normalise = true)
    {
        var r = new Random(seed);
        var centres = new float[clusters][];
        for (int c = 0; c < clusters; c++) centres[c] = Gaussian(r, dim, 1f);
        var data = new float[count][];
        for (int i = 0; i < count; i++)
        {
            var centre = centres[r.Next(clusters)];
            float sign = r.Next(2) == 0 ? 1f : -1f;
            var noise = Gaussian(r, dim, 0.5f);
            var v = new float[dim];
            for (int j = 0; j < dim; j++) v[j] = sign * centre[j] + noise[j];
            if (normalise) VectorMath.Normalize(v);
            data[i] = v;
        }
        return data;
    }

    public static float[] Gaussian(Random r, int dim, float sigma)
    {
        var v = new float[dim];
        for (int j = 0; j < dim; j++)
        {
            double u1 = 1.0 - r.NextDouble(), u2 = r.NextDouble();
            v[j] = sigma * (float)(Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2));
        }
        return v;
    }

    /// <summary>An index over <paramref name="data"/> in native memory, built on <paramref name="threads"/> threads.</summary>
    public static HnswIndex Build(float[][] data, DistanceMetric metric, int m = 12, int efConstruction = 100, int threads = 1,
        bool quantize = false, bool keepPruned = false)
    {
        var vectors = VectorStorage.InMemory(data[0].Length);
        vectors.EnsureCapacity(data.Length);
        for (int i = 0; i < data.Length; i++) vectors.Write((uint)i, data[i]);
        var index = new HnswIndex(vectors, new HnswGraph(m, efConstruction, keepPrunedConnections: keepPruned), metric, quantize);
        index.Add(0, (uint)data.Length, threads);
        return index;
    }

    /// <summary>Exact k nearest (internal distance, lower is closer) among nodes passing <paramref name="accept"/>.</summary>
    public static unsafe uint[] Exact(float[][] data, float[] query, DistanceMetric metric, int k, Func<uint, bool>? accept = null)
    {
        var scored = new List<(float D, uint Node)>(data.Length);
        fixed (float* q = query)
        {
            for (uint i = 0; i < data.Length; i++)
            {
                if (accept is not null && !accept(i)) continue;
                fixed (float* p = data[i]) scored.Add((Space.Distance(Space.IsEuclid(metric), q, p, query.Length), i));
            }
        }
        scored.Sort((a, b) => a.D.CompareTo(b.D));
        return [.. scored.Take(k).Select(s => s.Node)];
    }

    /// <summary>Mean recall@k of <paramref name="search"/> over the queries.</summary>
    public static double Recall(float[][] data, float[][] queries, DistanceMetric metric, int k, Func<float[], uint[]> search, Func<uint, bool>? accept = null)
    {
        long hits = 0, total = 0;
        foreach (var q in queries)
        {
            var expected = Exact(data, q, metric, k, accept);
            var found = search(q);
            hits += found.Intersect(expected).Count();
            total += expected.Length;
        }
        return hits / (double)total;
    }

    /// <summary>Search helper returning node ids.</summary>
    public static uint[] Search(HnswIndex index, float[] query, int k, int ef, INodeFilter? filter = null)
    {
        var results = new Candidate[k];
        int n = index.Search(query, k, ef, filter, results);
        return [.. results.Take(n).Select(c => c.Node)];
    }
}

/// <summary>A filter from a predicate (tests only).</summary>
internal sealed class PredicateFilter(Func<uint, bool> accept) : INodeFilter
{
    public bool Accepts(uint node) => accept(node);
}

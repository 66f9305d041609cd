using Retro.Core;

namespace Retro.VectorStore.Tests.Contract;

/// <summary>Seeded points and the reference (brute-force) search every store must agree with.</summary>
public static class ContractData
{
    /// <summary>A chunk of <paramref name="document"/> with every payload field filled (unicode text included).</summary>
    public static Chunk Chunk(string document, int ordinal, IReadOnlyDictionary<string, string>? metadata = null, string textSuffix = "")
    {
        int b = (document.Length * 31 + ordinal) % 1000;
        return new Chunk(
            ChunkId.From(document, ordinal),
            document,
            Url: document.StartsWith("nourl", StringComparison.Ordinal) ? "" : $"https://example.org/{document}",
            Ordinal: ordinal,
            Text: $"Chunk {ordinal} of {document}: naïve café — 東京 🚀{textSuffix}",
            Tokens: [b, b + 1, b + 2, 50_000 + ordinal],
            ContinuationText: ordinal % 3 == 2 ? "" : $"continuation {ordinal} «quoted»",
            ContinuationTokens: ordinal % 3 == 2 ? [] : [7, 8, 9, ordinal],
            Metadata: metadata ?? new Dictionary<string, string> { ["source"] = document.Length % 2 == 0 ? "web" : "books", ["lang"] = "en" });
    }

    /// <summary>A seeded Gaussian vector.</summary>
    public static float[] Vector(Random random, int dimension)
    {
        var v = new float[dimension];
        for (int i = 0; i < dimension; i++)
        {
            double u1 = 1.0 - random.NextDouble(), u2 = random.NextDouble();
            v[i] = (float)(Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2));
        }
        return v;
    }

    /// <summary>
    /// <paramref name="documents"/> documents of <paramref name="chunksPerDocument"/> chunks each, with seeded vectors;
    /// document i is named <c>doc-i</c>, its metadata <c>source</c> alternates web/books and <c>shard</c> is i mod 3.
    /// </summary>
    public static List<VectorPoint> Points(int documents, int chunksPerDocument, int dimension, int seed)
    {
        var random = new Random(seed);
        var points = new List<VectorPoint>(documents * chunksPerDocument);
        for (int d = 0; d < documents; d++)
        {
            var metadata = new Dictionary<string, string>
            {
                ["source"] = d % 2 == 0 ? "web" : "books",
                ["shard"] = (d % 3).ToString(System.Globalization.CultureInfo.InvariantCulture),
            };
            for (int o = 0; o < chunksPerDocument; o++)
            {
                points.Add(new VectorPoint(Chunk($"doc-{d}", o, metadata), Vector(random, dimension)));
            }
        }
        return points;
    }

    /// <summary>The similarity the contract defines: cosine, inner product, or negative squared Euclidean distance.</summary>
    public static float Score(DistanceMetric metric, ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        double dot = 0, na = 0, nb = 0, l2 = 0;
        for (int i = 0; i < a.Length; i++)
        {
            dot += (double)a[i] * b[i];
            na += (double)a[i] * a[i];
            nb += (double)b[i] * b[i];
            double d = (double)a[i] - b[i];
            l2 += d * d;
        }
        return metric switch
        {
            DistanceMetric.Cosine => (float)(dot / Math.Sqrt(na * nb)),
            DistanceMetric.Dot => (float)dot,
            DistanceMetric.Euclid => (float)-l2,
            _ => throw new ArgumentOutOfRangeException(nameof(metric)),
        };
    }

    /// <summary>Exact top-<paramref name="k"/> of the points that pass <paramref name="options"/>, best first.</summary>
    public static List<SearchHit> BruteForce(IEnumerable<VectorPoint> points, DistanceMetric metric, ReadOnlySpan<float> query, SearchOptions options, int k)
    {
        var hits = new List<SearchHit>();
        foreach (var p in points)
        {
            if (options.Accepts(p.Chunk)) hits.Add(new SearchHit(p.Id, Score(metric, query, p.Vector.Span)));
        }
        hits.Sort((x, y) => y.Score.CompareTo(x.Score));
        if (hits.Count > k) hits.RemoveRange(k, hits.Count - k);
        return hits;
    }
}

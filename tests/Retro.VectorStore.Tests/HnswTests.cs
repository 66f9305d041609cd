using Retro.Core;
using Retro.VectorStore.Hnsw;
using Retro.VectorStore.Vectors;

namespace Retro.VectorStore.Tests;

public sealed class HnswTests
{
    private const int Dim = 32;
    private const int N = 3_000;
    private const int K = 10;
    private const int Ef = 64;

    /// <summary>
    /// HNSW at ef=64 on 3k clustered points measures ~0.99 recall@10 here; 0.95 leaves room for seed changes while
    /// a broken build (missing back-links, wrong heuristic, wrong distance sign) falls far below it (a graph of random
    /// links scores under 0.5).
    /// </summary>
    private const double MinRecall = 0.95;

    /// <summary>
    /// The int8 walk (the product default) rescoring its ef candidates with float32 measures within ±0.005 of the float
    /// walk's recall at every ef here (and on real embeddings, the hnsw-recall benchmark); 0.02 leaves room for ties
    /// while a broken quantizer (wrong scale, offset or query step) falls far below.
    /// </summary>
    private const double MaxInt8RecallLoss = 0.02;

    private static readonly float[][] Data = TestData.Clustered(N, Dim, clusters: 20, seed: 1);
    private static readonly float[][] Queries = TestData.Clustered(100, Dim, clusters: 20, seed: 2);

    [Theory]
    [InlineData(DistanceMetric.Cosine, 1)]
    [InlineData(DistanceMetric.Cosine, 2)]
    [InlineData(DistanceMetric.Dot, 1)]
    [InlineData(DistanceMetric.Euclid, 2)]
    public void Recall_AgainstBruteForce_IsHigh(DistanceMetric metric, int threads)
    {
        var data = metric == DistanceMetric.Euclid ? TestData.Clustered(N, Dim, 20, seed: 3, normalise: false) : Data;
        var index = TestData.Build(data, metric, threads: threads);
        double recall = TestData.Recall(data, Queries, metric, K, q => TestData.Search(index, q, K, Ef));
        recall.ShouldBeGreaterThanOrEqualTo(MinRecall, $"{metric} with {threads} build threads");
    }

    [Fact]
    public void Recall_GrowsWithEf()
    {
        var index = TestData.Build(Data, DistanceMetric.Cosine);
        double low = TestData.Recall(Data, Queries, DistanceMetric.Cosine, K, q => TestData.Search(index, q, K, K));
        double high = TestData.Recall(Data, Queries, DistanceMetric.Cosine, K, q => TestData.Search(index, q, K, 256));
        high.ShouldBeGreaterThan(low);
        high.ShouldBeGreaterThanOrEqualTo(0.99);
    }

    [Theory]
    [InlineData(DistanceMetric.Cosine, 1)]
    [InlineData(DistanceMetric.Cosine, 2)]
    [InlineData(DistanceMetric.Dot, 1)]
    [InlineData(DistanceMetric.Euclid, 2)]
    public void Int8Recall_AgainstBruteForce_IsHigh(DistanceMetric metric, int threads)
    {
        var data = metric == DistanceMetric.Euclid ? TestData.Clustered(N, Dim, 20, seed: 3, normalise: false) : Data;
        var index = TestData.Build(data, metric, threads: threads, quantize: true);
        double recall = TestData.Recall(data, Queries, metric, K, q => TestData.Search(index, q, K, Ef));
        recall.ShouldBeGreaterThanOrEqualTo(MinRecall, $"{metric} with {threads} build threads");
    }

    [Theory]
    [InlineData(DistanceMetric.Cosine)]
    [InlineData(DistanceMetric.Euclid)]
    public void Int8Recall_MatchesFloat_AtEveryEf(DistanceMetric metric)
    {
        var data = metric == DistanceMetric.Euclid ? TestData.Clustered(N, Dim, 20, seed: 3, normalise: false) : Data;
        var floats = TestData.Build(data, metric, threads: 1);
        var int8 = new HnswIndex(floats.Vectors, floats.Graph, metric, quantize: true); // the same graph
        int8.Add((uint)data.Length, (uint)data.Length, threads: 1);
        foreach (int ef in new[] { K, 16, 24, 32, Ef })
        {
            double f = TestData.Recall(data, Queries, metric, K, q => TestData.Search(floats, q, K, ef));
            double q8 = TestData.Recall(data, Queries, metric, K, q => TestData.Search(int8, q, K, ef));
            q8.ShouldBeGreaterThanOrEqualTo(f - MaxInt8RecallLoss, $"{metric} at ef {ef}: float {f:F3}, int8 {q8:F3}");
        }
    }

    [Fact]
    public void Int8Quantization_ReportsFloatDistances()
    {
        var index = TestData.Build(Data, DistanceMetric.Cosine, quantize: true);
        // Rescored: reported distances are the exact float ones.
        var results = new Candidate[K];
        int n = index.Search(Queries[0], K, Ef, null, results);
        for (int i = 0; i < n; i++)
        {
            float exact = -Queries[0].Zip(Data[results[i].Node]).Sum(p => p.First * p.Second);
            results[i].Distance.ShouldBe(exact, 1e-4f);
        }
    }

    [Fact]
    public void Graph_Invariants_Hold()
    {
        var index = TestData.Build(Data, DistanceMetric.Cosine, threads: 2);
        var graph = index.Graph;
        var g = graph.Arrays;
        var links = new uint[graph.M0];
        long degree = 0;
        for (uint node = 0; node < graph.Count; node++)
        {
            for (int level = 0; level <= g.Levels[node]; level++)
            {
                int n = graph.ReadLinks(g, node, level, links);
                n.ShouldBeLessThanOrEqualTo(graph.MaxLinks(level));
                var list = links.Take(n).ToArray();
                list.ShouldNotContain(node, "no self links");
                list.Distinct().Count().ShouldBe(n, "no duplicate links");
                foreach (uint other in list) g.Levels[other].ShouldBeGreaterThanOrEqualTo((byte)level, "a link on level l points to a node present on l");
                if (level == 0) degree += n;
            }
        }
        (degree / (double)graph.Count).ShouldBeGreaterThan(graph.M / 2.0, "level 0 must be well connected");
    }

    /// <summary>
    /// Searches, and the other threads of a parallel build, run while a node is being inserted: wherever it is already
    /// reachable, a walk that descends through it must find its lists on the levels below written. (Linking top-down,
    /// a node published on level l still had empty lists below it, so a walk landing on it ended with that node alone;
    /// on 2 build threads the nodes inserted meanwhile got it as their only neighbour, and recall fell to 0.90.)
    /// </summary>
    [Fact]
    public void NodeBeingInserted_IsNavigable_WhereverItIsReachable()
    {
        var data = TestData.Clustered(N, Dim, 20, seed: 3, normalise: false);
        var vectors = VectorStorage.InMemory(Dim);
        vectors.EnsureCapacity(N);
        for (int i = 0; i < N; i++) vectors.Write((uint)i, data[i]);
        var graph = new HnswGraph(12, 100);
        var index = new HnswIndex(vectors, graph, DistanceMetric.Euclid, quantize: false); // searches the same graph
        var builder = new GraphBuilder(graph, vectors, euclid: true);
        int checks = 0;
        var stuck = new List<string>();
        builder.Linked = (node, level) =>
        {
            if (node < 2 * Ef) return;
            checks++;
            // What a concurrent search for this node's neighbourhood sees now: the beam must fill.
            int found = TestData.Search(index, data[node], Ef, Ef).Length;
            if (found < Ef) stuck.Add($"node {node} published on level {level}: {found} results");
        };
        builder.InsertRange(0, N, threads: 1);
        checks.ShouldBeGreaterThan(N - 2 * Ef);
        stuck.Count.ShouldBe(0, string.Join("; ", stuck.Take(3)));
    }

    [Fact]
    public void Levels_FollowTheGeometricLaw()
    {
        var graph = new HnswGraph(16, 100);
        int above0 = 0;
        const int Count = 200_000;
        for (uint i = 0; i < Count; i++) if (graph.LevelOf(i) > 0) above0++;
        // P(level ≥ 1) = exp(-1/mL) = 1/M = 0.0625; 200k draws give a standard error of ~0.0005.
        (above0 / (double)Count).ShouldBe(1.0 / 16, 0.003);
        graph.LevelOf(12345).ShouldBe(new HnswGraph(16, 100).LevelOf(12345), "levels are a pure function of seed and node");
    }

    [Fact]
    public void KeepPrunedConnections_FillsLists()
    {
        var plain = TestData.Build(Data, DistanceMetric.Cosine);
        var kept = TestData.Build(Data, DistanceMetric.Cosine, keepPruned: true);
        MeanDegree(kept.Graph).ShouldBeGreaterThan(MeanDegree(plain.Graph));
        TestData.Recall(Data, Queries, DistanceMetric.Cosine, K, q => TestData.Search(kept, q, K, Ef)).ShouldBeGreaterThanOrEqualTo(MinRecall);

        static double MeanDegree(HnswGraph graph)
        {
            var links = new uint[graph.M0];
            long sum = 0;
            for (uint node = 0; node < graph.Count; node++) sum += graph.ReadLinks(graph.Arrays, node, 0, links);
            return sum / (double)graph.Count;
        }
    }

    [Fact]
    public void Deleted_AreNeverReturned_AndLiveRecallStaysHigh()
    {
        var index = TestData.Build(Data, DistanceMetric.Cosine);
        var deleted = new HashSet<uint>();
        var r = new Random(5);
        while (deleted.Count < N * 3 / 10) deleted.Add((uint)r.Next(N));
        foreach (uint node in deleted) index.Delete(node);
        double recall = TestData.Recall(Data, Queries, DistanceMetric.Cosine, K, q =>
        {
            var found = TestData.Search(index, q, K, Ef);
            found.ShouldNotContain(n => deleted.Contains(n));
            return found;
        }, accept: n => !deleted.Contains(n));
        recall.ShouldBeGreaterThanOrEqualTo(MinRecall);
    }

    [Fact]
    public void Filter_IsAppliedInsideTheWalk()
    {
        var index = TestData.Build(Data, DistanceMetric.Cosine);
        Func<uint, bool> accept = n => n % 5 == 0;
        var filter = new PredicateFilter(accept);
        double recall = TestData.Recall(Data, Queries, DistanceMetric.Cosine, K, q =>
        {
            var found = TestData.Search(index, q, K, Ef, filter);
            found.Length.ShouldBe(K);
            found.ShouldAllBe(n => accept(n));
            return found;
        }, accept);
        recall.ShouldBeGreaterThanOrEqualTo(MinRecall);
    }

    [Fact]
    public void BruteForce_IsExact()
    {
        var index = TestData.Build(Data, DistanceMetric.Cosine);
        var results = new Candidate[K];
        foreach (var q in Queries.Take(10))
        {
            int n = index.BruteForce(q, K, null, null, results);
            results.Take(n).Select(c => c.Node).ShouldBe(TestData.Exact(Data, q, DistanceMetric.Cosine, K));
        }
    }

    [Fact]
    public async Task ConcurrentInsertsAndSearches_StayConsistent()
    {
        var vectors = Vectors.VectorStorage.InMemory(Dim);
        vectors.EnsureCapacity(N);
        for (int i = 0; i < N; i++) vectors.Write((uint)i, Data[i]);
        var index = new HnswIndex(vectors, new HnswGraph(12, 100), DistanceMetric.Cosine, quantize: false);
        using var done = new CancellationTokenSource();
        var errors = new List<string>();
        int searches = 0;
        var readers = Enumerable.Range(0, 2).Select(t => Task.Run(() =>
        {
            var results = new Candidate[K];
            int i = t;
            while (!done.IsCancellationRequested)
            {
                int n = index.Search(Queries[i++ % Queries.Length], K, Ef, null, results);
                int count = index.Graph.Count;
                var nodes = results.Take(n).Select(c => c.Node).ToArray();
                if (nodes.Distinct().Count() != n) lock (errors) errors.Add("duplicate node in results");
                if (nodes.Any(x => x >= count)) lock (errors) errors.Add("node beyond the inserted range");
                for (int j = 1; j < n; j++) if (results[j].Distance < results[j - 1].Distance) lock (errors) errors.Add("results not sorted");
                Interlocked.Increment(ref searches);
            }
        })).ToArray();
        // The writer inserts in batches (each on 2 threads) while the readers search; before each batch it lets the
        // readers make progress (on a loaded machine the pool may not have started them before the inserts ended).
        for (uint start = 0; start < N; start += 250)
        {
            int seen = Volatile.Read(ref searches);
            var wait = System.Diagnostics.Stopwatch.StartNew();
            while (Volatile.Read(ref searches) == seen && wait.Elapsed < TimeSpan.FromSeconds(5)) Thread.Yield();
            index.Add(start, start + 250, threads: 2);
        }
        done.Cancel();
        await Task.WhenAll(readers);
        errors.ShouldBeEmpty();
        searches.ShouldBeGreaterThan(0);
        TestData.Recall(Data, Queries, DistanceMetric.Cosine, K, q => TestData.Search(index, q, K, Ef)).ShouldBeGreaterThanOrEqualTo(MinRecall);
    }

    [Fact]
    public void Search_HonoursCancellation()
    {
        var index = TestData.Build(Data, DistanceMetric.Cosine);
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        Should.Throw<OperationCanceledException>(() => index.Search(Queries[0], K, Ef, null, new Candidate[K], cts.Token));
    }
}

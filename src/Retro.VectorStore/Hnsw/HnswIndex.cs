using Retro.Core;
using Retro.VectorStore.Metrics;
using Retro.VectorStore.Vectors;

namespace Retro.VectorStore.Hnsw;

/// <summary>
/// Vectors plus their HNSW graph (plus int8 codes when quantized): the in-process index the embedded store,
/// the tests and the benchmark share. Vectors of <see cref="DistanceMetric.Cosine"/> must be stored normalised.
/// Searches may run on any thread while one writer inserts.
/// </summary>
internal sealed unsafe class HnswIndex
{
    [ThreadStatic] private static SearchContext? t_context;
    [ThreadStatic] private static float[]? t_scaled;
    [ThreadStatic] private static sbyte[]? t_queryCodes;

    private readonly GraphBuilder _builder;
    private QuantizedVectors? _quantized;

    public VectorStorage Vectors { get; }
    public HnswGraph Graph { get; }
    public DistanceMetric Metric { get; }
    public bool Quantize { get; }

    public HnswIndex(VectorStorage vectors, HnswGraph graph, DistanceMetric metric, bool quantize)
    {
        Vectors = vectors;
        Graph = graph;
        Metric = metric;
        Quantize = quantize;
        _builder = new GraphBuilder(graph, vectors, Space.IsEuclid(metric));
    }

    /// <summary>
    /// Indexes nodes [<paramref name="from"/>, <paramref name="to"/>) whose vectors are stored: int8 codes (when
    /// quantized; trained over [0, to) on the first call and again whenever the index doubled) and graph links.
    /// Nodes for which <paramref name="skip"/> is true become unlinked tombstones. Single writer.
    /// </summary>
    public void Add(uint from, uint to, int threads, Func<uint, bool>? skip = null)
    {
        if (Quantize && to > 0)
        {
            var q = _quantized;
            if (q is null || to >= 2 * q.TrainedOn)
            {
                q = QuantizedVectors.Train(Vectors, to);
                q.Encode(Vectors, 0, to);
                Volatile.Write(ref _quantized, q);
            }
            else if (to > from) q.Encode(Vectors, from, to);
        }
        if (to > from) _builder.InsertRange(from, to, threads, skip);
    }

    /// <summary>Marks a node deleted (kept for navigation, never returned).</summary>
    public void Delete(uint node) => Graph.MarkDeleted(node);

    /// <summary>
    /// The <paramref name="k"/> nearest accepted, live nodes to <paramref name="query"/> (normalised for Cosine), closest
    /// first, into <paramref name="results"/>; returns how many. Beam width max(ef, k).
    /// </summary>
    public int Search(ReadOnlySpan<float> query, int k, int ef, INodeFilter? filter, Span<Candidate> results, CancellationToken cancellationToken = default)
    {
        if (query.Length != Vectors.Dimension) throw new ArgumentException($"expected {Vectors.Dimension} dimensions, got {query.Length}", nameof(query));
        k = Math.Min(k, results.Length);
        if (k <= 0) return 0;
        ef = Math.Max(ef, k);
        var context = t_context ??= new SearchContext();
        var view = Vectors.View();
        bool euclid = Space.IsEuclid(Metric);
        var quantized = Volatile.Read(ref _quantized);
        fixed (float* q = query)
        {
            if (quantized is null)
            {
                var distance = new FloatQuery(q, view, Vectors.Dimension, euclid);
                if (!GraphSearch.Search(Graph, ref distance, context, ef, filter, cancellationToken)) return 0;
                return Drain(context, k, results);
            }
            var scaled = t_scaled is { } s && s.Length >= query.Length ? s : (t_scaled = new float[query.Length]);
            float offset = quantized.PrepareQuery(query, scaled, out float qq);
            var queryCodes = t_queryCodes is { } qc && qc.Length >= query.Length ? qc : (t_queryCodes = new sbyte[query.Length]);
            float step = Int8Query.IntegerKernel ? quantized.QuantizeQuery(scaled, queryCodes) : 0f;
            fixed (float* sp = scaled)
            fixed (sbyte* cp = queryCodes)
            {
                var approximate = new Int8Query(sp, cp, step, offset, qq, quantized, euclid);
                // The same beam as the float walk: on the benchmark's synthetic data and on real embeddings (sample
                // corpus, SQuAD; the hnsw-recall suite) rescoring the ef int8 candidates gives float32's recall at every ef.
                if (!GraphSearch.Search(Graph, ref approximate, context, ef, filter, cancellationToken)) return 0;
            }
            // Rescore every int8 candidate with float32 (the k reported and their order are float32's), keep the best k.
            var found = context.Selection;
            context.DrainResultsSorted(found);
            context.NewVisit();
            foreach (var c in found) PushBounded(context, new Candidate(Space.Distance(euclid, q, view.Pointer(c.Node), Vectors.Dimension), c.Node), k);
            return Drain(context, k, results);
        }
    }

    /// <summary>Exact search over <paramref name="nodes"/> (or every node when null), skipping tombstones and rejected nodes.</summary>
    public int BruteForce(ReadOnlySpan<float> query, int k, IEnumerable<uint>? nodes, INodeFilter? filter, Span<Candidate> results, CancellationToken cancellationToken = default)
    {
        if (query.Length != Vectors.Dimension) throw new ArgumentException($"expected {Vectors.Dimension} dimensions, got {query.Length}", nameof(query));
        k = Math.Min(k, results.Length);
        if (k <= 0) return 0;
        var context = t_context ??= new SearchContext();
        context.Reset(0, Graph.M0);
        var g = Graph.Arrays;
        var view = Vectors.View();
        bool euclid = Space.IsEuclid(Metric);
        int count = Math.Min(Graph.Count, g.Capacity);
        fixed (float* q = query)
        {
            int dimension = Vectors.Dimension;
            if (nodes is null)
            {
                for (uint node = 0; node < count; node++) Consider(context, g, view, q, dimension, euclid, filter, node, k, cancellationToken);
            }
            else
            {
                foreach (uint node in nodes)
                {
                    if (node < count) Consider(context, g, view, q, dimension, euclid, filter, node, k, cancellationToken);
                }
            }
            return Drain(context, k, results);
        }
    }

    private static void Consider(SearchContext context, GraphArrays g, VectorView view, float* q, int dimension, bool euclid, INodeFilter? filter, uint node, int k, CancellationToken cancellationToken)
    {
        if ((node & 1023) == 0) cancellationToken.ThrowIfCancellationRequested();
        if (HnswGraph.IsDeleted(g, node) || (filter is not null && !filter.Accepts(node))) return;
        PushBounded(context, new Candidate(Space.Distance(euclid, q, view.Pointer(node), dimension), node), k);
    }

    private static void PushBounded(SearchContext context, Candidate c, int k)
    {
        if (context.ResultCount < k) context.PushResult(c);
        else if (c.Distance < context.WorstResult)
        {
            context.PopResult();
            context.PushResult(c);
        }
    }

    private static int Drain(SearchContext context, int k, Span<Candidate> results)
    {
        while (context.ResultCount > k) context.PopResult();
        int n = context.ResultCount;
        for (int i = n - 1; i >= 0; i--) results[i] = context.PopResult();
        return n;
    }
}

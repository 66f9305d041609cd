using Retro.VectorStore.Metrics;

namespace Retro.VectorStore.Hnsw;

/// <summary>
/// HNSW search (Malkov &amp; Yashunin, Algorithms 2 and 5): greedy descent through the upper levels, then a beam of
/// width ef on level 0. Tombstones and filtered-out nodes are traversed (the graph stays connected) but never
/// enter the results; then the walk only stops once ef accepted results are held (hnswlib's rule).
/// </summary>
internal static class GraphSearch
{
    /// <summary>
    /// The closest accepted nodes to the query, at most <paramref name="ef"/>, left in <paramref name="context"/>'s
    /// result heap. Returns false when the graph is empty.
    /// </summary>
    public static bool Search<TQuery>(HnswGraph graph, ref TQuery query, SearchContext context, int ef, INodeFilter? filter, CancellationToken cancellationToken)
        where TQuery : struct, IQueryDistance
    {
        var g = graph.Arrays;
        if (!graph.Entry.TryGet(out uint entry, out int top)) return false;
        context.Reset(g.Capacity, graph.M0);
        uint current = entry;
        float currentDistance = query.Distance(entry);
        for (int level = top; level > 0; level--)
        {
            Greedy(graph, g, ref query, context, level, ref current, ref currentDistance);
        }
        SearchLayer(graph, g, ref query, context, current, currentDistance, ef, 0, filter, excludeDeleted: true, cancellationToken);
        return true;
    }

    /// <summary>Greedy walk on one level towards the query (ef = 1).</summary>
    public static void Greedy<TQuery>(HnswGraph graph, GraphArrays g, ref TQuery query, SearchContext context, int level, ref uint current, ref float currentDistance)
        where TQuery : struct, IQueryDistance
    {
        uint[] links = context.Links;
        bool changed = true;
        while (changed)
        {
            changed = false;
            int n = graph.ReadLinks(g, current, level, links);
            for (int i = 0; i < n; i++)
            {
                uint node = links[i];
                if (node >= g.Capacity) continue; // linked after this reader's snapshot
                if (i + 1 < n) query.Prefetch(links[i + 1]);
                float d = query.Distance(node);
                if (d < currentDistance)
                {
                    currentDistance = d;
                    current = node;
                    changed = true;
                }
            }
        }
    }

    /// <summary>
    /// Beam search of width <paramref name="ef"/> on <paramref name="level"/> from <paramref name="entry"/>; the results
    /// stay in the context's result heap. The visited set must have been reset by the caller for this query.
    /// </summary>
    public static void SearchLayer<TQuery>(HnswGraph graph, GraphArrays g, ref TQuery query, SearchContext context, uint entry, float entryDistance,
        int ef, int level, INodeFilter? filter, bool excludeDeleted, CancellationToken cancellationToken)
        where TQuery : struct, IQueryDistance
    {
        context.NewVisit();
        uint[] links = context.Links;
        context.Visit(entry);
        context.PushCandidate(new Candidate(entryDistance, entry));
        float bound = float.PositiveInfinity;
        if (Accepts(g, entry, filter, excludeDeleted))
        {
            context.PushResult(new Candidate(entryDistance, entry));
            bound = entryDistance;
        }
        bool restricted = filter is not null || excludeDeleted;

        while (context.CandidateCount > 0)
        {
            var c = context.PopCandidate();
            if (c.Distance > bound && (context.ResultCount >= ef || !restricted)) break;
            cancellationToken.ThrowIfCancellationRequested();
            int n = graph.ReadLinks(g, c.Node, level, links);
            // Keep the unvisited neighbours and prefetch all of them before computing any distance: their vectors
            // are scattered in memory, so overlapping the misses matters more than anything else here.
            int fresh = 0;
            for (int i = 0; i < n; i++)
            {
                uint node = links[i];
                if (node >= g.Capacity || !context.Visit(node)) continue;
                query.Prefetch(node);
                links[fresh++] = node;
            }
            for (int i = 0; i < fresh; i++)
            {
                uint node = links[i];
                if (i + 1 < fresh) query.PrefetchAll(links[i + 1]); // the rest of the next vector while this one is compared
                float d = query.Distance(node);
                if (context.ResultCount < ef || d < bound)
                {
                    if (level == 0) graph.PrefetchLevel0(g, node); // likely expanded soon: its links and version
                    context.PushCandidate(new Candidate(d, node));
                    if (Accepts(g, node, filter, excludeDeleted))
                    {
                        context.PushResult(new Candidate(d, node));
                        if (context.ResultCount > ef) context.PopResult();
                        bound = context.WorstResult;
                    }
                }
            }
        }
    }

    private static bool Accepts(GraphArrays g, uint node, INodeFilter? filter, bool excludeDeleted)
        => (!excludeDeleted || !HnswGraph.IsDeleted(g, node)) && (filter is null || filter.Accepts(node));
}

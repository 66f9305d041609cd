using Retro.VectorStore.Metrics;
using Retro.VectorStore.Vectors;

namespace Retro.VectorStore.Hnsw;

/// <summary>
/// HNSW insertion (Malkov &amp; Yashunin, Algorithm 1) with the heuristic neighbour selection (Algorithm 4), on any
/// number of threads: each thread inserts whole nodes; link lists change under per-node locks and are published
/// through the node's seqlock, so concurrent searches and inserts read consistent lists.
/// </summary>
internal sealed unsafe class GraphBuilder
{
    private const int NodesPerGrab = 16;

    private readonly HnswGraph _graph;
    private readonly VectorStorage _vectors;
    private readonly bool _euclid;

    /// <summary>
    /// Called after <c>node</c> is published on <c>level</c> (its list written and back-links added): from then on a
    /// concurrent search or insert may reach it there. A test seam: tests observe the graph as such a reader would.
    /// </summary>
    internal Action<uint, int>? Linked { get; set; }

    public GraphBuilder(HnswGraph graph, VectorStorage vectors, bool euclid)
    {
        _graph = graph;
        _vectors = vectors;
        _euclid = euclid;
    }

    /// <summary>
    /// Inserts nodes [<paramref name="from"/>, <paramref name="to"/>) whose vectors are already stored, on up to
    /// <paramref name="threads"/> threads. Grows the graph as needed; nodes listed in <paramref name="skip"/> get no links
    /// (tombstones of an interrupted batch). Single writer: one call at a time.
    /// </summary>
    public void InsertRange(uint from, uint to, int threads, Func<uint, bool>? skip = null, CancellationToken cancellationToken = default)
    {
        if (to <= from) return;
        if (to > _vectors.Capacity) throw new ArgumentOutOfRangeException(nameof(to), "vectors not stored");
        _graph.EnsureCapacity((int)to);
        _graph.SetCount((int)Math.Max(to, (uint)_graph.Count));
        long next = from;
        threads = Math.Clamp(threads, 1, Math.Max(1, (int)((to - from) / 64)));
        void Work()
        {
            var context = new SearchContext();
            while (true)
            {
                long start = Interlocked.Add(ref next, NodesPerGrab) - NodesPerGrab;
                if (start >= to) return;
                cancellationToken.ThrowIfCancellationRequested();
                long end = Math.Min(start + NodesPerGrab, to);
                for (long i = start; i < end; i++)
                {
                    if (skip is not null && skip((uint)i)) InitializeOnly((uint)i);
                    else Insert((uint)i, context);
                }
            }
        }
        if (threads == 1) Work();
        else
        {
            var workers = new Task[threads];
            for (int t = 0; t < threads; t++) workers[t] = Task.Factory.StartNew(Work, cancellationToken, TaskCreationOptions.LongRunning, TaskScheduler.Default);
            Task.WaitAll(workers);
        }
    }

    private void InitializeOnly(uint node)
    {
        var g = _graph.Arrays;
        _graph.InitializeNode(g, node, 0);
        g.Deleted[node] = 1;
    }

    /// <summary>Inserts one node (its vector stored, its id reserved).</summary>
    public void Insert(uint node, SearchContext context)
    {
        var g = _graph.Arrays;
        var view = _vectors.View();
        int level = _graph.LevelOf(node);
        _graph.InitializeNode(g, node, level);
        if (!_graph.Entry.TryGet(out uint entry, out int top))
        {
            if (_graph.Entry.TryInitialize(node, level)) return;
            _graph.Entry.TryGet(out entry, out top);
        }

        var query = new FloatQuery(view.Pointer(node), view, _vectors.Dimension, _euclid);
        context.Reset(g.Capacity, _graph.M0);
        uint current = entry;
        float currentDistance = query.Distance(entry);
        for (int l = top; l > level; l--)
        {
            GraphSearch.Greedy(_graph, g, ref query, context, l, ref current, ref currentDistance);
        }
        // Choose the neighbours on every level top-down, then link bottom-up: a node becomes reachable on a level (by
        // back-links there, or by descending through it from above) only once its lists below are written, so a
        // concurrent search or insert that enters a lower level at it finds its neighbours there, not an empty list.
        // (Linking each level as it was searched published a node's upper lists while those below were still empty;
        // the inserts of other build threads that descended through it meanwhile got it as their only neighbour.)
        // Linking does not change what the searches of this insert read, so one thread builds the same graph.
        int highest = Math.Min(level, top);
        for (int l = highest; l >= 0; l--)
        {
            GraphSearch.SearchLayer(_graph, g, ref query, context, current, currentDistance, _graph.EfConstruction, l, null, excludeDeleted: false, CancellationToken.None);
            var found = context.Selection;
            context.DrainResultsSorted(found);
            found.RemoveAll(c => c.Node == node);
            var chosen = context.ChosenOn(l);
            if (found.Count == 0) { chosen.Clear(); continue; }
            current = found[0].Node;
            currentDistance = found[0].Distance;
            SelectNeighbours(view, found, _graph.M, chosen, context.Discarded);
        }
        for (int l = 0; l <= highest; l++)
        {
            var chosen = context.ChosenOn(l);
            if (chosen.Count == 0) continue;
            Connect(g, view, node, l, chosen, context);
            Linked?.Invoke(node, l);
        }
        if (level > top) _graph.Entry.Promote(node, level);
    }

    // ---------------------------------------------------------------- linking

    private void Connect(GraphArrays g, VectorView view, uint node, int level, List<Candidate> chosen, SearchContext context)
    {
        int max = _graph.MaxLinks(level);
        Span<uint> buffer = stackalloc uint[max + 1];
        var merged = context.Scratch;

        lock (_graph.LockOf(node))
        {
            // Concurrent inserts may already have linked to this node: keep their links too.
            var existing = _graph.LinksUnderLock(g, node, level);
            merged.Clear();
            merged.AddRange(chosen);
            foreach (uint e in existing)
            {
                if (!Contains(merged, e)) merged.Add(new Candidate(Distance(view, node, e), e));
            }
            WriteSelected(g, view, node, level, merged, max, context, buffer);
        }

        for (int i = 0; i < chosen.Count; i++)
        {
            uint neighbour = chosen[i].Node;
            lock (_graph.LockOf(neighbour))
            {
                var links = _graph.LinksUnderLock(g, neighbour, level);
                if (links.IndexOf(node) >= 0) continue;
                if (links.Length < max)
                {
                    links.CopyTo(buffer);
                    buffer[links.Length] = node;
                    _graph.WriteLinks(g, neighbour, level, buffer[..(links.Length + 1)]);
                    continue;
                }
                merged.Clear();
                merged.Add(new Candidate(chosen[i].Distance, node));
                foreach (uint e in links) merged.Add(new Candidate(Distance(view, neighbour, e), e));
                WriteSelected(g, view, neighbour, level, merged, max, context, buffer);
            }
        }
    }

    /// <summary>Writes <paramref name="candidates"/> as the node's list, shrunk by the heuristic when over capacity.</summary>
    private void WriteSelected(GraphArrays g, VectorView view, uint node, int level, List<Candidate> candidates, int max, SearchContext context, Span<uint> buffer)
    {
        int n;
        if (candidates.Count <= max)
        {
            n = candidates.Count;
            for (int i = 0; i < n; i++) buffer[i] = candidates[i].Node;
        }
        else
        {
            candidates.Sort(static (a, b) => a.Distance.CompareTo(b.Distance));
            var kept = context.Selection; // free here: the caller copied what it needs into ChosenOn(level)
            var discarded = context.Discarded;
            SelectNeighbours(view, candidates, max, kept, discarded);
            n = kept.Count;
            for (int i = 0; i < n; i++) buffer[i] = kept[i].Node;
        }
        _graph.WriteLinks(g, node, level, buffer[..n]);
    }

    /// <summary>
    /// Algorithm 4: walk the candidates closest first and keep one only if it is closer to the base than to every
    /// neighbour kept so far (diverse directions); with keepPrunedConnections, fill up with the closest discarded.
    /// <paramref name="sorted"/> holds distances to the base, ascending.
    /// </summary>
    private void SelectNeighbours(VectorView view, List<Candidate> sorted, int m, List<Candidate> kept, List<Candidate> discarded)
    {
        kept.Clear();
        discarded.Clear();
        for (int i = 0; i < sorted.Count && kept.Count < m; i++)
        {
            var e = sorted[i];
            bool good = true;
            for (int j = 0; j < kept.Count; j++)
            {
                if (Distance(view, e.Node, kept[j].Node) < e.Distance) { good = false; break; }
            }
            if (good) kept.Add(e);
            else discarded.Add(e);
        }
        if (_graph.KeepPrunedConnections)
        {
            for (int i = 0; i < discarded.Count && kept.Count < m; i++) kept.Add(discarded[i]);
        }
    }

    private float Distance(VectorView view, uint a, uint b) => Space.Distance(_euclid, view.Pointer(a), view.Pointer(b), _vectors.Dimension);

    private static bool Contains(List<Candidate> list, uint node)
    {
        foreach (var c in list) if (c.Node == node) return true;
        return false;
    }
}

using System.Runtime.CompilerServices;

namespace Retro.VectorStore.Hnsw;

/// <summary>A node and its distance to the query (lower is closer).</summary>
internal readonly record struct Candidate(float Distance, uint Node);

/// <summary>
/// Per-query scratch, reused across queries by one thread (as qdrant's pooled search contexts): a visited set
/// cleared in O(1) by a generation counter, the candidate min-heap, the result max-heap and a link buffer.
/// </summary>
internal sealed class SearchContext
{
    private ushort[] _visited = []; // 2 bytes a node (as hnswlib): half the cache footprint of a uint tag
    private ushort _generation;
    private Candidate[] _candidates = new Candidate[256];
    private int _candidateCount;
    private Candidate[] _results = new Candidate[256];
    private int _resultCount;

    /// <summary>Scratch for one neighbour list (copied out under the node's seqlock).</summary>
    public uint[] Links { get; private set; } = new uint[64];

    /// <summary>Scratch for neighbour selection.</summary>
    public List<Candidate> Selection { get; } = new(64);

    /// <summary>Second scratch list for neighbour selection.</summary>
    public List<Candidate> Scratch { get; } = new(64);

    private List<Candidate>[] _chosen = [];

    /// <summary>Neighbours the heuristic chose on <paramref name="level"/> for the node being inserted.</summary>
    public List<Candidate> ChosenOn(int level)
    {
        if (level >= _chosen.Length)
        {
            int old = _chosen.Length;
            Array.Resize(ref _chosen, level + 1);
            for (int l = old; l <= level; l++) _chosen[l] = new List<Candidate>(64);
        }
        return _chosen[level];
    }

    /// <summary>Candidates the heuristic discarded.</summary>
    public List<Candidate> Discarded { get; } = new(64);

    /// <summary>Sizes the scratch for node ids below <paramref name="capacity"/> and lists of <paramref name="maxLinks"/>.</summary>
    public void Reset(int capacity, int maxLinks)
    {
        if (_visited.Length < capacity) { _visited = new ushort[Math.Max(capacity, _visited.Length * 2)]; _generation = 0; }
        if (Links.Length < maxLinks) Links = new uint[maxLinks];
        NewVisit();
    }

    /// <summary>Starts a new visit: nothing visited, both heaps empty (O(1) but for a clear every 65,535 visits).</summary>
    public void NewVisit()
    {
        if (++_generation == 0)
        {
            Array.Clear(_visited);
            _generation = 1;
        }
        _candidateCount = 0;
        _resultCount = 0;
    }

    /// <summary>Marks <paramref name="node"/> visited; false when it already was in this visit.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool Visit(uint node)
    {
        ref ushort mark = ref _visited[node];
        if (mark == _generation) return false;
        mark = _generation;
        return true;
    }

    // ---------------------------------------------------------------- candidates: min-heap

    public int CandidateCount => _candidateCount;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void PushCandidate(Candidate c)
    {
        if (_candidateCount == _candidates.Length) Array.Resize(ref _candidates, _candidates.Length * 2);
        var heap = _candidates;
        int i = _candidateCount++;
        while (i > 0)
        {
            int parent = (i - 1) >> 1;
            if (heap[parent].Distance <= c.Distance) break;
            heap[i] = heap[parent];
            i = parent;
        }
        heap[i] = c;
    }

    public Candidate PopCandidate()
    {
        var heap = _candidates;
        var top = heap[0];
        var last = heap[--_candidateCount];
        int n = _candidateCount, i = 0;
        while (true)
        {
            int child = 2 * i + 1;
            if (child >= n) break;
            if (child + 1 < n && heap[child + 1].Distance < heap[child].Distance) child++;
            if (heap[child].Distance >= last.Distance) break;
            heap[i] = heap[child];
            i = child;
        }
        if (n > 0) heap[i] = last;
        return top;
    }

    // ---------------------------------------------------------------- results: max-heap

    public int ResultCount => _resultCount;

    /// <summary>The farthest result kept (valid when <see cref="ResultCount"/> &gt; 0).</summary>
    public float WorstResult => _results[0].Distance;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void PushResult(Candidate c)
    {
        if (_resultCount == _results.Length) Array.Resize(ref _results, _results.Length * 2);
        var heap = _results;
        int i = _resultCount++;
        while (i > 0)
        {
            int parent = (i - 1) >> 1;
            if (heap[parent].Distance >= c.Distance) break;
            heap[i] = heap[parent];
            i = parent;
        }
        heap[i] = c;
    }

    public Candidate PopResult()
    {
        var heap = _results;
        var top = heap[0];
        var last = heap[--_resultCount];
        int n = _resultCount, i = 0;
        while (true)
        {
            int child = 2 * i + 1;
            if (child >= n) break;
            if (child + 1 < n && heap[child + 1].Distance > heap[child].Distance) child++;
            if (heap[child].Distance <= last.Distance) break;
            heap[i] = heap[child];
            i = child;
        }
        if (n > 0) heap[i] = last;
        return top;
    }

    /// <summary>Moves the results into <paramref name="destination"/> sorted closest first (empties the heap).</summary>
    public void DrainResultsSorted(List<Candidate> destination)
    {
        destination.Clear();
        while (_resultCount > 0) destination.Add(PopResult());
        destination.Reverse();
    }
}
